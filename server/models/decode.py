"""A pipeline's decode step: encoded bytes -> RGB pixels padded to the size bucket, plus META.

One instance per pipeline (``<pipeline>_decode``): its config carries the pipeline's limits,
size buckets and card, which it forwards to encode in ``META`` (ensembles cannot pass constants).
It also validates OPTIONS against the pipeline's schema, so a bad option fails before any work.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from lumaflow.ensemble import contract
from lumaflow.ensemble.options import SCHEMA_FILE
from lumaflow.ensemble.stages import STAGES, SizeBuckets
from lumaflow.server.crops import grid_crops, summarise_analysis
from lumaflow.server.imaging import Limits, decode_image, pad_to_buckets
from lumaflow.server.models.base import (
    Outputs,
    RequestModel,
    bytes_tensor,
    call_model,
    optional_bytes,
    single_bytes,
)
from lumaflow.server.options import OptionsParser
from lumaflow.server.side_inputs import PROVIDERS, Analysis, SideContext

NO_ALPHA = np.zeros((0, 0), dtype=np.uint8)


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
        buckets = json.loads(self.parameters["size_buckets"])
        self.buckets = SizeBuckets(tuple(buckets["ladder"]), buckets["step_above"]) if buckets else None
        self.bucket_max_side = int(self.parameters["bucket_max_side"])
        card = json.loads(self.parameters["pipeline_card"])
        repository = Path(args["model_repository"]).parent
        card["networks"] = {
            stage: _network_identity(repository, stage, network) for stage, network in card["networks"].items()
        }
        self.card = card
        self.limits = Limits(
            max_megapixels=float(self.parameters["max_input_megapixels"]),
            max_megabytes=float(self.parameters["max_input_megabytes"]),
            max_output_megapixels=float(self.parameters["max_output_megapixels"]),
            scale=int(card["scale"]),
        )
        produced = {contract.PIXELS.name, contract.ALPHA.name, contract.META.name}
        self.side_inputs = [
            (output["name"], PROVIDERS[output["name"]])
            for output in self.config["output"]
            if output["name"] not in produced
        ]
        self.analysis_model = self.parameters["analysis_model"]
        schema_path = repository / card["pipeline"] / SCHEMA_FILE
        self.options = OptionsParser(json.loads(schema_path.read_text()), json.loads(self.parameters["presets"]))

    def process(self, request: Any) -> Outputs:
        started = time.perf_counter()
        options = self.options.parse(optional_bytes(request, contract.OPTIONS.name))
        decoded = decode_image(
            single_bytes(request, contract.IMAGE.name), limits=self.limits, keep_gps=bool(options["keep_gps"])
        )
        # Photos up to one tile are padded to a bucket to batch with others whole; the stage's
        # tiler cuts larger ones into fixed-size tiles, so padding them would only add work.
        fits_one_tile = not self.bucket_max_side or max(decoded.width, decoded.height) <= self.bucket_max_side
        padded = pad_to_buckets(decoded.pixels, self.buckets) if fits_one_tile else decoded.pixels
        returned_profile = None
        if options["color_profile"] == "source" and decoded.profile is not None and decoded.profile.returnable:
            returned_profile = decoded.profile
        side: Outputs = {}
        analysis: dict[str, Any] = {}
        context = SideContext(
            decoded.pixels, padded, options, optional_bytes(request, contract.MASK.name), self._analyse
        )
        for name, provider in self.side_inputs:
            side[name], figures = provider(context)
            analysis.update(figures)
        meta = {
            **self.card,
            "input": decoded.describe(),
            # What encode writes back: one channel for a grey photo, the EXIF block, and the source
            # profile only when the client asked for it (base64, so META stays JSON).
            "source": {
                "grey": decoded.grey,
                "exif": base64.b64encode(decoded.exif).decode(),
                "icc": base64.b64encode(returned_profile.icc).decode() if returned_profile else "",
                "icc_description": returned_profile.description if returned_profile else "",
            },
            "padded": {"width": int(padded.shape[1]), "height": int(padded.shape[0])},
            "options": options,
            "max_output_megapixels": self.limits.max_output_megapixels,  # a router checks its chosen scale
            "analysis": analysis,
            "decode_ms": (time.perf_counter() - started) * 1e3,
            # CLOCK_MONOTONIC is system-wide, so encode (another process) can measure the gap:
            # the time the request spent in the neural stages, queueing included.
            "handoff_ns": time.monotonic_ns(),
        }
        return {
            contract.PIXELS.name: padded[None],
            contract.ALPHA.name: (decoded.alpha if decoded.alpha is not None else NO_ALPHA)[None],
            contract.META.name: bytes_tensor(json.dumps(meta).encode()),
            **side,
        }

    def _analyse(self, pixels: np.ndarray) -> Analysis:
        """The analysis network's reading of the photo: its grid crops in one BLS request."""
        rows = call_model(self.analysis_model, contract.PIXELS.name, grid_crops(pixels), contract.ANALYSIS.name)
        return summarise_analysis(rows)
