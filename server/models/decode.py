"""A pipeline's decode step: encoded bytes -> RGB pixels padded to the size bucket, plus META.

One instance per pipeline (``<pipeline>_decode``): its config carries the pipeline's limits,
size buckets and card, which it forwards to encode in ``META`` (ensembles cannot pass constants).
It also validates OPTIONS against the pipeline's schema, so a bad option fails before any work.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from lumaflow.ensemble import contract
from lumaflow.ensemble.options import SCHEMA_FILE
from lumaflow.ensemble.stages import STAGES, SizeBuckets
from lumaflow.server.imaging import decode_image, pad_to_buckets
from lumaflow.server.models.base import Outputs, RequestModel, bytes_tensor, optional_bytes, single_bytes
from lumaflow.server.options import OptionsParser
from lumaflow.server.side_inputs import PROVIDERS


def _network_identity(repository: Path, stage: str, network: dict[str, Any]) -> dict[str, Any]:
    """The declared network plus the build record of the graph actually served (its sidecar)."""
    declared = STAGES[stage].network
    sidecar = repository / stage / "1" / (declared.record_file if declared else "")
    if declared is not None and sidecar.is_file():
        record = json.loads(sidecar.read_text())
        return {**network, "sha256": record.get("weights_sha256", "")[:16]}
    return dict(network)


class TritonPythonModel(RequestModel):
    def setup(self, args: dict[str, str]) -> None:
        self.max_megapixels = float(self.parameters["max_input_megapixels"])
        buckets = json.loads(self.parameters["size_buckets"])
        self.buckets = SizeBuckets(tuple(buckets["ladder"]), buckets["step_above"]) if buckets else None
        card = json.loads(self.parameters["pipeline_card"])
        repository = Path(args["model_repository"]).parent
        card["networks"] = {
            stage: _network_identity(repository, stage, network) for stage, network in card["networks"].items()
        }
        self.card = card
        produced = {contract.PIXELS.name, contract.META.name}
        self.side_inputs = [
            (output["name"], PROVIDERS[output["name"]])
            for output in self.config["output"]
            if output["name"] not in produced
        ]
        schema_path = repository / card["pipeline"] / SCHEMA_FILE
        self.options = OptionsParser(json.loads(schema_path.read_text()))

    def process(self, request: Any) -> Outputs:
        started = time.perf_counter()
        options = self.options.parse(optional_bytes(request, contract.OPTIONS.name))
        decoded = decode_image(single_bytes(request, contract.IMAGE.name), max_megapixels=self.max_megapixels)
        padded = pad_to_buckets(decoded.pixels, self.buckets)
        side: Outputs = {}
        analysis: dict[str, Any] = {}
        for name, provider in self.side_inputs:
            side[name], figures = provider(decoded.pixels, options)
            analysis.update(figures)
        meta = {
            **self.card,
            "input": {"width": decoded.width, "height": decoded.height, "format": decoded.format},
            "padded": {"width": int(padded.shape[1]), "height": int(padded.shape[0])},
            "options": options,
            "analysis": analysis,
            "decode_ms": (time.perf_counter() - started) * 1e3,
            # CLOCK_MONOTONIC is system-wide, so encode (another process) can measure the gap:
            # the time the request spent in the neural stages, queueing included.
            "handoff_ns": time.monotonic_ns(),
        }
        return {
            contract.PIXELS.name: padded[None],
            contract.META.name: bytes_tensor(json.dumps(meta).encode()),
            **side,
        }
