"""Cutting a large image into fixed-size tiles with context, and putting the results back.

Every tile a stage sees is ``tile`` x ``tile`` pixels (fewer only along a side shorter than that),
so tiles of different requests have one shape and Triton's dynamic batcher stacks them together.
Each tile carries ``context`` pixels of its neighbours on every side (reflected at the image
edges) and only its centre, the *core*, is kept: where the context covers the network's
receptive field the core equals the untiled result exactly, so there is no seam left to blend.
A network whose receptive field is wider than the context (Real-ESRGAN's RRDB stack) differs
from untiled only by what lies beyond it, measured in the tests as PSNR of tiled vs untiled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Span:
    """One tile along one axis: the core it owns and the window the network sees (padded coords)."""

    core_start: int  # in image coordinates
    core_end: int
    window_start: int  # in the context-padded image's coordinates
    window_size: int


def spans(length: int, tile: int, context: int) -> list[Span]:
    """Tiles covering ``length`` pixels: cores of ``tile - 2 * context`` with ``context`` around each."""
    core = tile - 2 * context
    if core < 1:
        raise ValueError(f"a tile of {tile} px cannot carry {context} px of context on both sides")
    padded = length + 2 * context
    window = min(tile, padded)
    result = []
    for start in range(0, length, core):
        end = min(start + core, length)
        # The core [start, end) sits at [start + context, end + context) in padded coordinates; the
        # window starts `context` before it, shifted left at the far edge to keep the tile size.
        window_start = min(start, padded - window)
        result.append(Span(start, end, window_start, window))
    return result


@dataclass(frozen=True)
class Tile:
    rows: Span
    cols: Span


def plan(height: int, width: int, tile: int, context: int) -> list[Tile]:
    """All tiles of an image, row by row."""
    return [Tile(r, c) for r in spans(height, tile, context) for c in spans(width, tile, context)]


def needs_tiling(height: int, width: int, tile: int) -> bool:
    """Whether an image is larger than one tile (smaller ones go to the stage whole)."""
    return height > tile or width > tile


def pad_for_context(pixels: np.ndarray, context: int) -> np.ndarray:
    """The HWC image with ``context`` pixels reflected on every side (edge-repeated if too small)."""
    widths = ((context, context), (context, context), (0, 0))
    if min(pixels.shape[:2]) > context:
        return np.pad(pixels, widths, mode="reflect")
    return np.pad(pixels, widths, mode="edge")


def window(padded: np.ndarray, tile: Tile) -> np.ndarray:
    """The pixels the network sees for ``tile`` (from ``pad_for_context``'s result)."""
    r, c = tile.rows, tile.cols
    return padded[r.window_start : r.window_start + r.window_size, c.window_start : c.window_start + c.window_size]


def place(output: np.ndarray, result: np.ndarray, tile: Tile, context: int, scale: int) -> None:
    """Copy the core of one tile's ``scale``-times-larger result into ``output``."""
    r, c = tile.rows, tile.cols
    top = (r.core_start + context - r.window_start) * scale
    left = (c.core_start + context - c.window_start) * scale
    height = (r.core_end - r.core_start) * scale
    width = (c.core_end - c.core_start) * scale
    output[r.core_start * scale : r.core_end * scale, c.core_start * scale : c.core_end * scale] = result[
        top : top + height, left : left + width
    ]
