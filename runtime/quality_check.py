"""The quality check before encode, as a pure function: is the result better than what the client had anyway?

The quality network scores grid crops of the result and the same crops of the input -- resized by
bicubic when the pipeline upscales, since a bicubic upscale is what the client would otherwise
use -- as two crop sets of one call, one score each. Each set is the grid of 25 crops the network
was trained and evaluated on (its max over the crops depends on how many there are). INFO reports
both scores and ``worse`` when the result scores ``WORSE_BY`` points or more below. OPTIONS
``quality_check`` false skips the call (META passes through). ``score`` is a BLS request in the
served model (``lumaflow.server.models.quality_check``) and an engine call offline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from lumaflow.runtime.crops import CROPS_PER_SIDE, crops_at, grid_positions, upscaled_crops
from lumaflow.runtime.meta import Meta

WORSE_BY = 3.0  # points of the 0-100 score: below this the two are within the network's spread

# Crop sets [2, crops, H, W, 3] -> one score per set, [2, 1].
Score = Callable[[np.ndarray], np.ndarray]


def wanted(meta: Meta) -> bool:
    """Whether the request asked for the check (OPTIONS ``quality_check``, on by default)."""
    return bool(meta.options.get("quality_check", True))


def quality_check(original: np.ndarray, result: np.ndarray, meta: Meta, score: Score) -> Meta:
    """META with the verdict on ``result`` ([1, H, W, 3] at the output scale) against ``original`` ([1, h, w, 3])."""
    if not wanted(meta):
        return meta
    started = time.perf_counter()
    scale = meta.scale
    original = original[0, : meta.height, : meta.width]
    result = result[0, : meta.height * scale, : meta.width * scale]
    positions = grid_positions(result.shape[0], result.shape[1], CROPS_PER_SIDE)
    # A result under one crop is scored whole, against the whole input bicubic-resized to its size.
    crop_sets = np.stack((crops_at(result, positions), upscaled_crops(original, positions, scale)))
    scores = score(crop_sets)
    output, baseline = float(scores[0, 0]), float(scores[1, 0])
    verdict = {
        "output": round(output, 1),
        "input": round(baseline, 1),
        "compared_with": "the input" if scale == 1 else f"the input, bicubic x{scale}",
        "worse": bool(output <= baseline - WORSE_BY),
    }
    return replace(meta, quality=verdict, quality_ms=round((time.perf_counter() - started) * 1e3, 3))
