"""The quality check before encode: is the result better than what the client would have had anyway?

The quality network scores grid crops of the result and the same crops of the input -- resized by
bicubic when the pipeline upscales, since a bicubic upscale is what the client would otherwise
use -- as two crop sets of one BLS request, one score each. Each set is the grid of 25 crops the
network was trained and evaluated on (its max over the crops depends on how many there are). INFO
reports both scores and ``worse`` when the result scores ``WORSE_BY`` points or more below. OPTIONS
``quality_check`` false skips the work (META passes through).
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from lumaflow.ensemble import contract
from lumaflow.server.crops import CROPS_PER_SIDE, crops_at, grid_positions, upscaled_crops
from lumaflow.server.models.base import Outputs, RequestModel, bytes_tensor, call_model, input_array, single_bytes

WORSE_BY = 3.0  # points of the 0-100 score: below this the two are within the network's spread


class TritonPythonModel(RequestModel):
    def setup(self, args: dict[str, str]) -> None:
        self.quality_model = self.parameters["quality_model"]

    def process(self, request: Any) -> Outputs:
        meta = json.loads(single_bytes(request, contract.META.name))
        if meta["options"].get("quality_check", True):
            started = time.perf_counter()
            meta["quality"] = self._check(request, meta)
            meta["quality"]["ms"] = round((time.perf_counter() - started) * 1e3, 3)
        return {contract.META.name: bytes_tensor(json.dumps(meta).encode())}

    def _check(self, request: Any, meta: dict[str, Any]) -> dict[str, Any]:
        scale = int(meta["scale"])
        width, height = int(meta["input"]["width"]), int(meta["input"]["height"])
        original = input_array(request, contract.ORIGINAL.name)[0, :height, :width]
        result = input_array(request, contract.PIXELS.name)[0, : height * scale, : width * scale]
        positions = grid_positions(result.shape[0], result.shape[1], CROPS_PER_SIDE)
        # A result under one crop is scored whole, against the whole input bicubic-resized to its size.
        crop_sets = np.stack((crops_at(result, positions), upscaled_crops(original, positions, scale)))
        scores = call_model(self.quality_model, contract.CROPS.name, crop_sets, contract.QUALITY.name)
        output, baseline = float(scores[0, 0]), float(scores[1, 0])
        return {
            "output": round(output, 1),
            "input": round(baseline, 1),
            "compared_with": "the input" if scale == 1 else f"the input, bicubic x{scale}",
            "worse": bool(output <= baseline - WORSE_BY),
        }
