"""The progress board on its own: what the tilers post, the progress model reads; ids that could be paths refused."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import numpy as np
import pytest

from lumaflow.params import TilerParams
from lumaflow.runtime.errors import InvalidInput
from lumaflow.runtime.progress import KEEP_S, ProgressBoard
from lumaflow.runtime.tiled import tile_and_run

pytestmark = pytest.mark.unit


def test_posts_are_read_back_per_stage(tmp_path: Path) -> None:
    board = ProgressBoard(tmp_path)
    assert board.read("abcdef0123") == {}
    board.post("abcdef0123", "span_x4", 3, 30)
    board.post("abcdef0123", "span_x2", 0, 12)
    board.post("abcdef0123", "span_x4", 4, 30)
    answer = board.read("abcdef0123")
    assert answer["stages"] == {"span_x2": [0, 12], "span_x4": [4, 30]} and answer["age_s"] >= 0


@pytest.mark.parametrize("bad", ["../../etc", "short", "a/b/c/d/e/f", "x" * 65, "with space1"])
def test_an_id_that_is_not_of_the_pattern_is_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InvalidInput, match=r"^\[invalid_options\] A progress id matches"):
        ProgressBoard(tmp_path).post(bad, "stage", 1, 2)


def test_old_entries_are_forgotten_when_the_board_is_read(tmp_path: Path) -> None:
    board = ProgressBoard(tmp_path)
    board.post("old-request-1", "ffdnet", 1, 1)
    long_ago = time.time() - KEEP_S - 10
    os.utime(tmp_path / "old-request-1", (long_ago, long_ago))
    board.post("new-request-1", "ffdnet", 1, 2)
    assert board.read("old-request-1") == {} and board.read("new-request-1")["stages"] == {"ffdnet": [1, 2]}


def test_the_tiler_reports_each_placed_tile() -> None:
    params = TilerParams(stage="s", scale=1, tile=64, context=8, max_tiles_in_flight=2)
    seen: list[tuple[int, int]] = []

    async def infer(tile: np.ndarray, side: dict[str, np.ndarray]) -> np.ndarray:
        return tile

    pixels = np.zeros((1, 100, 150, 3), dtype=np.uint8)
    asyncio.run(tile_and_run(params, pixels, {}, 3, infer, on_tile=lambda done, total: seen.append((done, total))))
    assert seen == [(done, 12) for done in range(1, 13)]  # 3 x 4 tiles of 48 px cores
