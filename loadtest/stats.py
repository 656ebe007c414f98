"""Triton's own per-model counters, read over gRPC: what ran, and in how many batches."""

from __future__ import annotations

import tritonclient.grpc as grpcclient


def model_counts(client: grpcclient.InferenceServerClient, model: str) -> tuple[int, int]:
    """(inferences, executions) of a model so far: the requests (or tiles) it saw, and the batches they ran in."""
    stats = client.get_inference_statistics(model, as_json=True)["model_stats"][0]
    return int(stats.get("inference_count", 0)), int(stats.get("execution_count", 0))
