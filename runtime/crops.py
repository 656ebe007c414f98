"""Which crops of a photo the assessors see, and how their per-crop answers become one.

Noise, JPEG blocking and blur must be seen at the photo's own resolution, so the assessors get
full-resolution crops, not a thumbnail: a grid of up to ``CROPS_PER_SIDE``² crops of ``CROP_SIDE``
pixels spread over the photo, their corners on the 16-pixel grid of a 4:2:0 JPEG's blocks (the
networks were trained on patches whose JPEG grid starts at their corner). The evaluation in
``lumaflow.build.assess`` uses these same functions, so what it measures is what is served.
"""

from __future__ import annotations

import numpy as np

from lumaflow.contract import ANALYSIS_FIELDS
from lumaflow.runtime.imaging import bicubic_upscale

CROP_SIDE = 64  # the assessors' training patch
CROPS_PER_SIDE = 5
JPEG_GRID = 16  # a 4:2:0 JPEG's macroblock


def _starts(length: int, count: int, side: int) -> list[int]:
    last = (length - side) // JPEG_GRID * JPEG_GRID
    if count == 1 or last == 0:
        return [last // 2 // JPEG_GRID * JPEG_GRID]
    return sorted({round(i * last / (count - 1) / JPEG_GRID) * JPEG_GRID for i in range(count)})


Position = tuple[int, int]  # (top, left) of a crop


def grid_positions(height: int, width: int, per_side: int = CROPS_PER_SIDE, side: int = CROP_SIDE) -> list[Position]:
    """Up to ``per_side``² corners of ``side``-pixel crops spread over the image, on the JPEG grid; [] if under one."""
    if height < side or width < side:
        return []
    return [(y, x) for y in _starts(height, per_side, side) for x in _starts(width, per_side, side)]


def crops_at(pixels: np.ndarray, positions: list[Position], side: int = CROP_SIDE) -> np.ndarray:
    """uint8 [K, side, side, 3] at ``positions``; the whole image as one crop when there are none."""
    if not positions:
        return np.ascontiguousarray(pixels[None])
    return np.ascontiguousarray(np.stack([pixels[y : y + side, x : x + side] for y, x in positions]))


def grid_crops(pixels: np.ndarray, per_side: int = CROPS_PER_SIDE) -> np.ndarray:
    """uint8 [K, s, s, 3]: up to ``per_side``² grid-aligned crops; a photo under one crop is one crop of itself."""
    return crops_at(pixels, grid_positions(pixels.shape[0], pixels.shape[1], per_side))


BASELINE_MARGIN = 4  # input pixels around a crop's source, so the bicubic kernel sees real neighbours


def upscaled_crops(original: np.ndarray, positions: list[Position], scale: int) -> np.ndarray:
    """What bicubic would give at ``positions`` of a ``scale``-times larger result, without resizing it all.

    Each crop's source region (plus a margin) is resized alone; positions and the crop side are
    multiples of 16, so for scales 1, 2, 4 and 8 the regions fall on whole input pixels.
    """
    if scale == 1:
        return crops_at(original, positions)
    if not positions:
        return np.ascontiguousarray(bicubic_upscale(original, scale)[None])
    m, side = BASELINE_MARGIN, CROP_SIDE // scale
    padded = np.pad(original, ((m, m), (m, m), (0, 0)), mode="edge")
    crops = []
    for y, x in positions:
        region = padded[y // scale : y // scale + side + 2 * m, x // scale : x // scale + side + 2 * m]
        crops.append(
            bicubic_upscale(np.ascontiguousarray(region), scale)[
                m * scale : m * scale + CROP_SIDE, m * scale : m * scale + CROP_SIDE
            ]
        )
    return np.ascontiguousarray(np.stack(crops))


# A crop often cannot tell a dark scene from an underexposed one, so the network's per-crop exposure
# is shrunk towards "normal" (it learns the conditional mean). The photo's mean is stretched back by
# a line fitted on the training wallpapers (11 photos at -3..+1 EV: ev = 1.523 x mean + 0.082).
EXPOSURE_SLOPE, EXPOSURE_OFFSET = 1.523, 0.082


def summarise_analysis(rows: np.ndarray) -> dict[str, float]:
    """One photo's analysis from its crops' rows: medians of the measures (robust to a flat or busy
    crop), means of the exposure (calibrated) and the tone probabilities (properties of the whole photo)."""
    fields = dict(zip(ANALYSIS_FIELDS, rows.T, strict=True))
    summary = {name: float(np.median(fields[name])) for name in ("noise_sigma", "jpeg_quality", "blur_sigma")}
    summary.update({name: float(np.mean(fields[name])) for name in ANALYSIS_FIELDS[3:]})
    summary["exposure_ev"] = EXPOSURE_SLOPE * summary["exposure_ev"] + EXPOSURE_OFFSET
    return summary


def tone(summary: dict[str, float]) -> str:
    """colour, grey or sepia: the most probable."""
    return max(("colour", "grey", "sepia"), key=lambda name: summary[f"p_{name}"])


def exposure_class(exposure_ev: float, threshold: float = 0.75) -> str:
    """under, normal or over: beyond ``threshold`` EV from a normal exposure."""
    if exposure_ev < -threshold:
        return "under"
    return "over" if exposure_ev > threshold else "normal"
