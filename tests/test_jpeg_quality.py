"""`estimate_jpeg_quality`: the quality a file was saved at, read back from its quantisation tables."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from lumaflow.runtime.jpeg_quality import CHROMA_BASE, LUMA_BASE, estimate_jpeg_quality, ijg_scale, ijg_table

pytestmark = pytest.mark.unit


def _tables(quality: int, subsampling: int = 2) -> dict[int, list[int]]:
    pixels = (np.random.default_rng(quality).random((24, 24, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=quality, subsampling=subsampling)
    buf.seek(0)
    with Image.open(buf) as image:
        return {k: list(v) for k, v in image.quantization.items()}


@pytest.mark.parametrize("quality", range(10, 96))
def test_pillow_files_give_their_quality_back(quality: int) -> None:
    assert estimate_jpeg_quality(_tables(quality)) == float(quality)


def test_subsampling_does_not_matter() -> None:
    assert estimate_jpeg_quality(_tables(37, subsampling=0)) == 37.0


def test_pillow_tables_are_the_ijg_tables_in_natural_order() -> None:
    tables = _tables(50)
    assert tables[0] == LUMA_BASE.tolist()  # quality 50 is the Annex K table itself
    assert tables[1] == CHROMA_BASE.tolist()
    assert _tables(20)[0] == ijg_table(LUMA_BASE, 20).tolist()


def test_ijg_scaling() -> None:
    assert [ijg_scale(q) for q in (1, 10, 25, 50, 75, 100)] == [5000, 500, 200, 100, 50, 0]
    assert ijg_table(LUMA_BASE, 1).max() == 255
    assert ijg_table(LUMA_BASE, 100).tolist() == [1] * 64


def test_a_sequence_of_tables_is_accepted() -> None:
    assert estimate_jpeg_quality([ijg_table(LUMA_BASE, 63).tolist(), ijg_table(CHROMA_BASE, 63).tolist()]) == 63.0


def test_non_standard_tables_get_the_nearest_quality_by_mean_ratio() -> None:
    # A flat table (as some encoders write) of the same mean ratio as quality 30's table.
    mean_ratio = float(np.mean(ijg_table(LUMA_BASE, 30) / LUMA_BASE))
    flat = np.maximum(np.round(LUMA_BASE * mean_ratio), 1)
    flat[0] += 1  # no longer any IJG table
    assert abs(estimate_jpeg_quality({0: flat.astype(int).tolist()}) - 30.0) <= 1.0
    # Twice the quality-50 table is quality 25's scale (200 %).
    assert estimate_jpeg_quality({0: (LUMA_BASE * 2 + np.eye(8, dtype=int).ravel()).tolist()}) == 25.0


def test_bad_tables_are_refused() -> None:
    with pytest.raises(ValueError):
        estimate_jpeg_quality({0: [16] * 63})
    with pytest.raises(ValueError):
        estimate_jpeg_quality({0: [0] * 64})
