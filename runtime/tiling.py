"""Cutting a large image into fixed-size tiles with context, and putting the results back.

Every tile a stage sees is ``tile`` x ``tile`` pixels (fewer only along a side shorter than that),
so tiles of different requests have one shape and Triton's dynamic batcher stacks them together.
Each tile carries ``context`` pixels of its neighbours on every side (reflected at the image
edges) and only its centre, the *core*, is kept: where the context covers the network's
receptive field the core equals the untiled result exactly, so there is no seam left to blend.
A network whose receptive field is wider than the context (Real-ESRGAN's RRDB stack) differs
from untiled only by what lies beyond it, measured in the tests.

Every window starts on a multiple of ``ALIGN`` pixels of the padded image: networks that work on a coarser grid
(a pixel-unshuffle by 2, a U-Net's stride-4 levels) then see every tile on the same grid, as they would see the
whole photo. The far edges get up to ``ALIGN - 1`` more reflected pixels for that (``far_padding``).
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


ALIGN = 8  # window starts and the padded size are multiples of this (tiles are multiples of 8 px and their cores too)


def far_padding(length: int, context: int) -> int:
    """The pixels added after the far context so the padded length is a multiple of ``ALIGN``."""
    return -(length + 2 * context) % ALIGN


def spans(length: int, tile: int, context: int) -> list[Span]:
    """Tiles covering ``length`` pixels: cores of ``tile - 2 * context`` with ``context`` around each."""
    core = tile - 2 * context
    if core < 1:
        raise ValueError(f"a tile of {tile} px cannot carry {context} px of context on both sides")
    if tile % ALIGN or core % ALIGN:
        raise ValueError(f"a tile of {tile} px with {context} px of context is not on the {ALIGN} px grid")
    padded = length + 2 * context + far_padding(length, context)
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


def whole(height: int, width: int, context: int) -> Tile:
    """The whole image as one window with the same context (and far padding) as its tiles: the reference that
    tiled output is checked against."""
    rows = Span(0, height, 0, height + 2 * context + far_padding(height, context))
    cols = Span(0, width, 0, width + 2 * context + far_padding(width, context))
    return Tile(rows, cols)


def needs_tiling(height: int, width: int, tile: int) -> bool:
    """Whether an image is larger than one tile (smaller ones go to the stage whole)."""
    return height > tile or width > tile


def pad_for_context(pixels: np.ndarray, context: int) -> np.ndarray:
    """The HWC image with ``context`` pixels reflected on every side, and ``far_padding`` more at the bottom and
    right (edge-repeated if the image is too small to reflect)."""
    height, width = pixels.shape[:2]
    bottom, right = context + far_padding(height, context), context + far_padding(width, context)
    widths = ((context, bottom), (context, right), (0, 0))
    if min(height, width) > max(bottom, right):
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
