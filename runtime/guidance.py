"""The user's guidance: REGION (where the result applies) and ``strength`` (how much of it), as pure functions.

decode turns REGION into GUIDE, the result's weight x 255 per input pixel: the region (or, with
``region_mode`` ``except``, everything else) at 255, the rest at 0, and a linear ramp ``region_feather``
pixels wide centred on the region's edge (Euclidean distance, so a brushed circle stays round). At strength
0 GUIDE is 0 everywhere; with no REGION it is 0x0 (everywhere 255). The tilers leave out every tile whose
window, widened by ``MARGIN``, has no weight (``tile_needed``); the quality check then blends the result
with the input -- the bicubic upscale of it when the pipeline upscales -- by GUIDE times ``strength``
(``blend``), so where the weight is 0 the client gets exactly what it sent (or its bicubic upscale), where
it is 255 at strength 1 exactly the result, and in between the linear blend, rounded.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lumaflow.runtime.imaging import bicubic_upscale
from lumaflow.runtime.mask import decode_mask
from lumaflow.runtime.meta import Meta

FULL = 255
# Input pixels around a tile's window that must also be weightless before the tile is left out: a skipped tile's
# pixels then lie farther than every later stage's receptive field from anything the result shows (a chain such
# as upscale_x8 or a route reads a skipped tile's stand-in as context).
MARGIN = 16
NO_GUIDE = np.zeros((0, 0), dtype=np.uint8)


def feathered(here: np.ndarray, feather: float) -> np.ndarray:
    """uint8 HxW weight of a bool HxW ``here``: 255 inside, 0 outside, a linear ramp ``feather`` px wide across
    the edge (half inside, half outside)."""
    if not here.any():
        return np.zeros(here.shape, dtype=np.uint8)
    if here.all():
        return np.full(here.shape, FULL, dtype=np.uint8)
    if feather <= 0:
        return here.astype(np.uint8) * FULL
    import cv2  # opencv-python-headless, in the server extra

    # Distance of each pixel to the nearest pixel of the other side; the edge lies half-way between the two.
    inside = cv2.distanceTransform(here.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    outside = cv2.distanceTransform((~here).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    signed = np.where(here, inside - 0.5, 0.5 - outside)
    weight = np.clip(0.5 + signed / np.float32(feather), 0.0, 1.0)
    return np.rint(weight * FULL).astype(np.uint8)


def region_guide(data: bytes, width: int, height: int, mode: str, feather: float) -> tuple[np.ndarray, dict[str, Any]]:
    """GUIDE of a REGION file (uint8 HxW at the photo's upright size) and INFO's ``region`` figures."""
    here = decode_mask(data, width, height, input_name="REGION")
    if mode == "except":
        here = ~here
    figures = {"mode": mode, "coverage": round(float(here.mean()), 5), "feather_px": feather}
    return feathered(here, feather), figures


def tile_needed(guide: np.ndarray, scale_in: int, rows: tuple[int, int], cols: tuple[int, int]) -> bool:
    """Whether any weight lies under a window (``rows``, ``cols``: [start, end) in the stage's input pixels, which
    are ``scale_in`` times the photo's) widened by ``MARGIN`` photo pixels; an empty GUIDE weighs everywhere."""
    if guide.size == 0:
        return True
    top, bottom = max(0, rows[0] // scale_in - MARGIN), max(0, -(-rows[1] // scale_in) + MARGIN)
    left, right = max(0, cols[0] // scale_in - MARGIN), max(0, -(-cols[1] // scale_in) + MARGIN)
    return bool(guide[top:bottom, left:right].any())


def _weights_at(guide: np.ndarray, scale: int) -> np.ndarray:
    """GUIDE at the output size: each output pixel weighs what the input pixel it comes from weighs, so a region's
    edge stays where the client drew it (an interpolated weight would bleed one output pixel past it)."""
    if scale == 1:
        return guide
    return np.repeat(np.repeat(guide, scale, axis=0), scale, axis=1)


def blend(original: np.ndarray, result: np.ndarray, guide: np.ndarray, strength: float, scale: int) -> np.ndarray:
    """The result (uint8 HxWx3 at ``scale`` times ``original``'s HxWx3) blended with the input by ``guide`` (HxW, or
    0x0 for everywhere) times ``strength``: the input (bicubic-upscaled) where the weight is 0, exactly."""
    base = bicubic_upscale(original, scale)
    if guide.size == 0:
        weight = np.full(result.shape[:2], np.float32(strength), dtype=np.float32)
    else:
        weight = _weights_at(guide, scale).astype(np.float32) * np.float32(strength) / np.float32(FULL)
    out = np.where((weight == 0)[..., None], base, result)
    partial = (weight > 0) & (weight < 1)  # only the ramp and a partial strength need arithmetic
    if partial.any():
        b, r = base[partial].astype(np.float32), result[partial].astype(np.float32)
        out[partial] = np.rint(b + weight[partial][:, None] * (r - b)).astype(np.uint8)
    return out


def guided_result(original: np.ndarray, result: np.ndarray, guide: np.ndarray, meta: Meta) -> np.ndarray | None:
    """The result blended as META's guidance says ([1, H, W, 3] unpadded at the output size), or None without one.

    ``original`` is decode's pixels and ``result`` the last stage's, both [1, ...] and maybe padded; ``guide`` is
    GUIDE, [1, h, w] padded as ``original``, or [1, 0, 0]."""
    if meta.guidance is None:
        return None
    height, width, scale = meta.height, meta.width, meta.scale
    weights = guide[0, :height, :width] if guide.size else NO_GUIDE
    blended = blend(
        original[0, :height, :width],
        result[0, : height * scale, : width * scale],
        weights,
        float(meta.guidance.get("strength", 1.0)),
        scale,
    )
    return blended[None]
