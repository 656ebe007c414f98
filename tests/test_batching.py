"""How the embedded neural stage splits a Triton batch into ONNX Runtime calls."""

from __future__ import annotations

import pytest

from lumaflow.runtime.batching import chunk_by_pixels

pytestmark = pytest.mark.unit

MP4 = 2048 * 2048


def test_small_images_share_one_call() -> None:
    assert chunk_by_pixels([128 * 128] * 8, 4 * 1024 * 1024) == [range(0, 8)]


def test_large_images_go_one_per_call() -> None:
    assert chunk_by_pixels([MP4] * 3, MP4) == [range(0, 1), range(1, 2), range(2, 3)]


def test_an_item_over_the_budget_still_runs_alone() -> None:
    assert chunk_by_pixels([10, 50, 10, 10], 30) == [range(0, 1), range(1, 2), range(2, 4)]


def test_nothing_to_split() -> None:
    assert chunk_by_pixels([], 100) == []


@pytest.mark.parametrize(("pixels", "budget"), [([0], 10), ([5], 0)])
def test_nonsense_is_refused(pixels: list[int], budget: int) -> None:
    with pytest.raises(ValueError):
        chunk_by_pixels(pixels, budget)
