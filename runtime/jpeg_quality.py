"""The quality a JPEG file was saved at, read back from its quantisation tables (numpy only).

libjpeg (IJG) makes its tables by scaling the Annex K tables: ``scale = 5000 / q`` below quality 50,
``200 - 2 q`` from 50, each entry ``floor((base * scale + 50) / 100)`` clamped to 1..255 (baseline). A file
written that way (Pillow, most cameras' "quality" setting) gets its quality back exactly: the luma table is
compared with the IJG table of every quality. Any other encoder's tables get the IJG quality whose luma
table's mean ratio to the Annex K table is nearest (in log). Tables are in natural (row-major) order, as
Pillow's ``Image.quantization`` gives them: ``{0: 64 luma values, 1: 64 chroma values, ...}``.

Above about 95 IJG tables stop being unique (entries clamp to 1: qualities 98-100 are all ones), so
there the smallest matching quality is returned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

# ITU-T T.81 Annex K.1, natural order: luminance and chrominance.
LUMA_BASE = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=np.int64,
).ravel()
CHROMA_BASE = np.array(
    [
        [17, 18, 24, 47, 99, 99, 99, 99],
        [18, 21, 26, 66, 99, 99, 99, 99],
        [24, 26, 56, 99, 99, 99, 99, 99],
        [47, 66, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
    ],
    dtype=np.int64,
).ravel()

QUALITIES = np.arange(1, 101)


def ijg_scale(quality: int) -> int:
    """libjpeg's ``jpeg_quality_scaling``: the percentage the Annex K tables are scaled by."""
    q = min(max(int(quality), 1), 100)
    return 5000 // q if q < 50 else 200 - 2 * q


def ijg_table(base: np.ndarray, quality: int) -> np.ndarray:
    """The table libjpeg writes for ``base`` at ``quality`` (baseline: entries 1..255)."""
    return np.clip((base * ijg_scale(quality) + 50) // 100, 1, 255)


# Every quality's luma table, [100, 64], and its mean ratio to the Annex K table.
_LUMA_TABLES = np.stack([ijg_table(LUMA_BASE, int(q)) for q in QUALITIES])
_LOG_MEAN_RATIOS = np.log(np.mean(_LUMA_TABLES / LUMA_BASE, axis=1))


def estimate_jpeg_quality(tables: Mapping[int, Sequence[int]] | Sequence[Sequence[int]]) -> float:
    """The IJG quality (1..100) of a file's quantisation tables (``tables[0]`` is the luma table)."""
    luma = np.asarray(tables[0], dtype=np.float64).ravel()
    if luma.size != 64 or not np.all(np.isfinite(luma)) or np.any(luma <= 0):
        raise ValueError("the luma table must hold 64 positive values")
    exact = np.flatnonzero(np.all(luma == _LUMA_TABLES, axis=1))
    if exact.size:
        return float(QUALITIES[exact[0]])
    log_ratio = np.log(np.mean(luma / LUMA_BASE))
    return float(QUALITIES[int(np.argmin(np.abs(_LOG_MEAN_RATIOS - log_ratio)))])


def told_quality(quality: float) -> float:
    """A quality as the de-JPEG stage is told it: within 1..100 whatever its source (an estimate may stray)."""
    return min(max(float(quality), 1.0), 100.0)
