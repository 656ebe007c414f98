"""Triton's own per-model counters, read over gRPC: what ran, in how many batches, and where the time went."""

from __future__ import annotations

from typing import Any

import tritonclient.grpc as grpcclient

PHASES = ("queue", "compute_input", "compute_infer", "compute_output")


def _counters(stats: dict[str, Any]) -> dict[str, int]:
    """One model's cumulative counters: inferences, executions and nanoseconds spent in each phase."""
    inference = stats.get("inference_stats", {})
    row = {"inferences": int(stats.get("inference_count", 0)), "executions": int(stats.get("execution_count", 0))}
    for phase in PHASES:
        row[f"{phase}_ns"] = int(inference.get(phase, {}).get("ns", 0))
    return row


def model_counts(client: grpcclient.InferenceServerClient, model: str) -> tuple[int, int]:
    """(inferences, executions) of a model so far: the requests (or tiles) it saw, and the batches they ran in."""
    row = _counters(client.get_inference_statistics(model, as_json=True)["model_stats"][0])
    return row["inferences"], row["executions"]


def statistics_snapshot(client: grpcclient.InferenceServerClient) -> dict[str, dict[str, int]]:
    """Every model's counters at once, by name (subtract two snapshots to cover a measured window)."""
    return {
        stats["name"]: _counters(stats)
        for stats in client.get_inference_statistics(as_json=True).get("model_stats", [])
    }


BatchStats = dict[int, dict[str, int]]  # batch size -> executions and ns in compute_input/infer/output


def batch_snapshot(client: grpcclient.InferenceServerClient, model: str) -> BatchStats:
    """Triton's per-batch-size counters of ``model`` so far: executions, and ns in compute_input/infer/output."""
    stats = client.get_inference_statistics(model, as_json=True)["model_stats"][0]
    rows: BatchStats = {}
    for row in stats.get("batch_stats", []):
        infer = row.get("compute_infer", {})
        rows[int(row["batch_size"])] = {
            "executions": int(infer.get("count", 0)),
            **{f"{phase}_ns": int(row.get(phase, {}).get("ns", 0)) for phase in PHASES[1:]},  # no queue per batch
        }
    return rows
