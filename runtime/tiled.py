"""A neural stage for photos of any size, as a pure coroutine: tiles out to ``infer``, the result put back.

The served tiler (``lumaflow.server.models.tiler``) passes an ``infer`` that sends one tile to the
stage model by BLS (its dynamic batcher stacks the tiles of every request in flight); the offline
evaluation passes one that runs the stage's engine in this process. An image no larger than one tile
goes whole; a larger one is cut into fixed-size tiles with context (``lumaflow.runtime.tiling``),
sent through a sliding window of ``max_tiles_in_flight``. ``infer`` raises to stop the request (its
deadline passed, a called model refused): tiles not yet sent are then never sent. A tile is left out --
its own input returned, bicubic-upscaled at scale > 1 -- when the stage would return it unchanged (its
``identity_without`` input is all zero there) or when GUIDE says the result will not show there
(``lumaflow.runtime.guidance.tile_needed``); ``TileCounts`` says how many went and how many did not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import numpy as np

from lumaflow import contract
from lumaflow.params import TilerParams
from lumaflow.runtime import tiling
from lumaflow.runtime.errors import InvalidInput
from lumaflow.runtime.guidance import tile_needed
from lumaflow.runtime.imaging import bicubic_upscale
from lumaflow.runtime.mask import navier_stokes_fill

# One call of the stage: pixels [1, h, w, C] and the side inputs (per-pixel ones cut to the same window)
# -> [1, h*s, w*s, C'].
Infer = Callable[[np.ndarray, dict[str, np.ndarray]], Awaitable[np.ndarray]]


@dataclass
class TileCounts:
    """One image's tiles through one stage: sent to the network, and left out."""

    sent: int = 0
    skipped: int = 0

    def as_list(self) -> list[int]:
        return [self.sent, self.skipped]


def _unchanged(params: TilerParams, spatial: Mapping[str, np.ndarray]) -> bool:
    """Whether the stage would return these pixels as they are: its ``identity_without`` input is all zero."""
    return bool(params.identity_without) and params.scale == 1 and not spatial[params.identity_without].any()


class _LeftOut:
    """Which windows the stage is not sent: its ``identity_without`` input is all zero there, or GUIDE gives them no
    weight (checked at the photo's size: the stage's input may be a previous stage's scale times larger)."""

    def __init__(self, params: TilerParams, pixels: np.ndarray, guide: np.ndarray | None) -> None:
        self.params, self.guide, self.scale = params, guide, 1
        if guide is not None and guide.size:
            self.scale = pixels.shape[1] // guide.shape[0]
            if self.scale < 1 or pixels.shape[1:3] != (guide.shape[0] * self.scale, guide.shape[1] * self.scale):
                raise ValueError(f"GUIDE {list(guide.shape)} does not match pixels {list(pixels.shape)}")

    def __call__(self, windows: Mapping[str, np.ndarray], rows: tuple[int, int], cols: tuple[int, int]) -> bool:
        unneeded = self.guide is not None and not tile_needed(self.guide, self.scale, rows, cols)
        return unneeded or _unchanged(self.params, windows)


async def tile_and_run(
    params: TilerParams,
    pixels: np.ndarray,
    side: Mapping[str, np.ndarray],
    output_channels: int,
    infer: Infer,
    *,
    one_window: bool = False,
    guide: np.ndarray | None = None,
    counts: TileCounts | None = None,
    on_tile: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """The stage's output for one image ``pixels`` [1, H, W, C] with its ``side`` inputs (by name).

    ``one_window`` sends the whole image as a single window with the tiles' context (`tiling.whole`): the
    untiled reference of the evaluation and the tests, never served (it has no size bound). ``guide`` (GUIDE,
    HW at the photo's size, or 0x0) leaves out the tiles the result will not show; ``counts`` is added to;
    ``on_tile(done, total)`` is called as each tile is placed (progress).
    """
    counts, report = counts or TileCounts(), on_tile or (lambda done, total: None)
    if pixels.ndim != 4 or pixels.shape[0] != 1:
        raise InvalidInput(contract.INVALID_IMAGE, f"The pixels must be one image, got {list(pixels.shape)}.")
    height, width = pixels.shape[1:3]
    # Per-pixel side inputs (HOLE) are cut into the same tiles; per-image ones (NOISE_LEVEL) go whole.
    spatial = {
        name: array[0] for name, array in side.items() if array.ndim == 4 and array.shape[1:3] == (height, width)
    }
    if params.prefill:  # on the whole photo, so that tiles agree
        # OpenCV releases the GIL: in a thread, a large hole (seconds on a 12 MP photo) does not hold up
        # the tiles of every other request in flight.
        filled = await asyncio.to_thread(navier_stokes_fill, pixels[0], spatial[params.prefill][..., 0])
        pixels = filled[None]
    left_out = _LeftOut(params, pixels, guide)
    if not one_window and not tiling.needs_tiling(height, width, params.tile):
        if left_out(spatial, (0, height), (0, width)):
            counts.skipped += 1
            whole = bicubic_upscale(pixels[0], params.scale)[None]
        else:
            counts.sent += 1
            whole = await infer(np.ascontiguousarray(pixels), dict(side))
        report(1, 1)
        return whole
    padded = tiling.pad_for_context(pixels[0], params.context)
    padded_side = {name: tiling.pad_for_context(array, params.context) for name, array in spatial.items()}
    output = np.empty((height * params.scale, width * params.scale, output_channels), dtype=np.uint8)
    slots = asyncio.Semaphore(params.max_tiles_in_flight)  # a sliding window: the next tile goes as one returns
    placed: list[tiling.Tile] = []

    async def one(tile: tiling.Tile) -> None:
        windows = {name: tiling.window(array, tile) for name, array in padded_side.items()}
        r, c, ctx = tile.rows, tile.cols, params.context
        rows = (r.window_start - ctx, r.window_start - ctx + r.window_size)
        cols = (c.window_start - ctx, c.window_start - ctx + c.window_size)
        if left_out(windows, rows, cols):
            counts.skipped += 1
            result = bicubic_upscale(tiling.window(padded, tile), params.scale)[None]
        else:
            counts.sent += 1
            tile_side = {
                name: np.ascontiguousarray(windows[name][None]) if name in windows else array
                for name, array in side.items()
            }
            async with slots:
                result = await infer(np.ascontiguousarray(tiling.window(padded, tile)[None]), tile_side)
        tiling.place(output, result[0], tile, params.context, params.scale)
        placed.append(tile)
        report(len(placed), len(tiles))

    tiles = (
        [tiling.whole(height, width, params.context)]
        if one_window
        else tiling.plan(height, width, params.tile, params.context)
    )
    tasks = [asyncio.ensure_future(one(tile)) for tile in tiles]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:  # after a failure, tiles not yet sent are not sent
            task.cancel()
    return output[None]
