"""The guidance functions on their own: the feathered REGION, which tiles are needed, the blend."""

from __future__ import annotations

import numpy as np
import pytest

from lumaflow.runtime.errors import InvalidInput
from lumaflow.runtime.guidance import FULL, MARGIN, blend, feathered, region_guide, tile_needed
from tests.fixtures import astronaut, encode

pytestmark = pytest.mark.unit


def test_the_feather_ramps_across_the_edge_half_each_side() -> None:
    here = np.zeros((8, 40), dtype=bool)
    here[:, :20] = True
    row = feathered(here, 8)[0].astype(int)
    assert list(row[:16]) == [FULL] * 16 and list(row[24:]) == [0] * 16
    assert np.all(np.diff(row[15:25]) < 0)  # strictly down across the edge
    assert row[19] + row[20] == FULL  # symmetric about it
    assert list(feathered(here, 0)[0]) == [FULL] * 20 + [0] * 20


def test_a_region_file_is_read_upright_with_its_mode() -> None:
    grey = np.zeros((30, 40), dtype=np.uint8)
    grey[:, :10] = 200
    guide, figures = region_guide(encode(grey), 40, 30, "except", 0)
    assert figures == {"mode": "except", "coverage": 0.75, "feather_px": 0}
    assert guide[:, :10].max() == 0 and guide[:, 10:].min() == FULL
    alpha = np.zeros((30, 40, 4), dtype=np.uint8)
    alpha[:5, :, 3] = 255  # strokes on a transparent layer
    guide, figures = region_guide(encode(alpha), 40, 30, "only", 0)
    assert figures["coverage"] == pytest.approx(5 / 30, abs=1e-5) and guide[:5].min() == FULL
    canvas = np.zeros((30, 40, 4), dtype=np.uint8)  # a browser canvas's export: opaque, white strokes on black
    canvas[..., 3] = 255
    canvas[:, :8, :3] = 255
    _, figures = region_guide(encode(canvas), 40, 30, "only", 0)
    assert figures["coverage"] == pytest.approx(8 / 40, abs=1e-5)
    with pytest.raises(InvalidInput, match=r"^\[mask_mismatch\] The REGION image is 40x31"):
        region_guide(encode(np.zeros((31, 40), dtype=np.uint8)), 40, 30, "only", 8)


def test_a_tile_is_needed_when_weight_lies_within_the_margin_of_its_window() -> None:
    guide = np.zeros((100, 100), dtype=np.uint8)
    guide[50, 50] = 1
    assert tile_needed(guide, 1, (0, 50 - MARGIN + 1), (0, 100))
    assert not tile_needed(guide, 1, (0, 50 - MARGIN), (0, 100))
    # At a stage's input twice the photo's size, windows are halved onto GUIDE.
    assert tile_needed(guide, 2, (0, 2 * (50 - MARGIN) + 1), (0, 200))
    assert not tile_needed(guide, 2, (0, 2 * (50 - MARGIN)), (0, 200))
    assert tile_needed(np.zeros((0, 0), dtype=np.uint8), 1, (0, 1), (0, 1))  # no GUIDE: every tile


def test_the_blend_is_exact_at_both_ends_and_linear_between() -> None:
    original = astronaut()[:32, :48]
    result = np.ascontiguousarray(original[::-1])
    guide = np.zeros((32, 48), dtype=np.uint8)
    guide[:, 24:] = FULL
    out = blend(original, result, guide, 1.0, 1)
    assert np.array_equal(out[:, :24], original[:, :24]) and np.array_equal(out[:, 24:], result[:, 24:])
    half = blend(original, result, np.zeros((0, 0), dtype=np.uint8), 0.5, 1).astype(int)
    expected = (original.astype(float) + result) / 2
    assert np.abs(half - expected).max() <= 0.5 + 1e-6
    assert np.array_equal(blend(original, result, guide, 0.0, 1), original)
