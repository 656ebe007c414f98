"""The one-tile path: a small photo's network and encode run inside its decode, the later steps pass it through.

A photo that fits one tile costs its tiler nothing but a BLS round trip to the stage, and its result then
travels through the quality check to encode as a tensor: on a 256 px photo, doing without those costs measured
1.12x the photos a second with one caller (``python -m lumaflow.bench.lean --ordinary``, docs/performance.md,
"The one-tile path"). So a pipeline of one lean network with per-image side inputs at most
(``ensemble.pipelines.Pipeline.one_tile_stage``) opens that stage's graph in its decode as well: a photo that fits
one tile, with no guidance and no quality check asked, is run on the same padded pixels and side inputs the tiler
would send whole and written as encode would write it; META's ``one_tile`` tells the tiler, the quality check and
encode to pass it on, and ENCODED carries the file. Anything else takes the ordinary path.

Decode then holds ``photo_compute`` (its instance is a photo network's), so it still takes its turn on the cores
with every other photo network; that is why it asks no model by BLS: what its side inputs need (the analysis, the
noise-map estimator) it runs itself too (``StageInDecode``, ``Decoder.create`` refuses a decode without them).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from lumaflow.params import StageInDecode
from lumaflow.runtime import tiling
from lumaflow.runtime.decoding import NO_ALPHA, Decoded
from lumaflow.runtime.encoding import write_result
from lumaflow.runtime.meta import OneTile
from lumaflow.runtime.quality_check import wanted
from lumaflow.runtime.stage import OpenedStage

NO_PIXELS = np.zeros((1, 0, 0, 3), dtype=np.uint8)  # what decode hands on instead of the pixels it already ran


def takes_one_tile_path(decoded: Decoded, tile: int) -> bool:
    """Whether decode finishes this request itself: its padded pixels are one tile, which the stage's tiler would
    send whole (``tile``: the first stage's, ``DecodeParams.bucket_max_side``), and the result is written as the
    network returns it (no guidance to blend, no quality check to score it)."""
    meta = decoded.meta
    return (
        not tiling.needs_tiling(meta.padded_height, meta.padded_width, tile)
        and meta.guidance is None
        and not wanted(meta)
    )


def run_one_tile(decoded: Decoded, network: OpenedStage, stage: str) -> tuple[Decoded, bytes]:
    """``stage``'s result for ``decoded`` (its pixels and side inputs) written as encode writes it; returns what
    decode hands on (no pixels, META saying what was done) and the file."""
    started = time.perf_counter()
    result = network.run({network.spec.pixels: decoded.pixels, **decoded.side})
    network_ms = (time.perf_counter() - started) * 1e3
    written = write_result(result, decoded.alpha, decoded.meta)
    meta = replace(
        decoded.meta,
        one_tile=OneTile(written.format, written.notes, network_ms, written.ms),
        tiles={**decoded.meta.tiles, stage: [1, 0]},  # as its tiler counts a photo sent whole
        handoff_ns=time.monotonic_ns(),
    )
    handed_on = replace(decoded, pixels=NO_PIXELS, alpha=NO_ALPHA[None], meta=meta)
    return handed_on, written.data


@dataclass(frozen=True)
class OneTileRunner:
    """A decode's one-tile path: the stage's network, opened as the stage model opens it, and the tile side."""

    stage: str
    network: OpenedStage
    tile: int

    @classmethod
    def open(cls, stage: StageInDecode, repository: Path, tile: int) -> OneTileRunner:
        """The stage's graph, run once on a tile of zeros (the shape the stage model warms at)."""
        network = OpenedStage.open(stage, repository)
        network.warm(tile, stage.side_dtypes)
        return cls(stage.stage, network, tile)

    def finish(self, decoded: Decoded) -> tuple[Decoded, bytes] | None:
        """``run_one_tile`` when the request takes the path; None when it goes on as decoded."""
        if not takes_one_tile_path(decoded, self.tile):
            return None
        return run_one_tile(decoded, self.network, self.stage)
