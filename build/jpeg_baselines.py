"""A classical JPEG deblocking baseline: re-application of JPEG (Nosratinia, 2001).

The decoded image is shifted by each of the 64 offsets within an 8x8 block, block-DCT transformed, requantised with
the file's own luma quantisation table, transformed back and unshifted; the 64 results are averaged. Blocking edges
of the original grid are not block edges of the shifted grids, so the average smooths them, while detail the
quantiser kept survives every requantisation. It needs nothing but the decoded pixels and the file's tables, and
is the classical reference the de-JPEG network has to beat besides the JPEG itself
(A. Nosratinia, "Enhancement of JPEG-compressed images by re-application of JPEG", J. VLSI Signal Process. 2001).

Only luma is filtered (the benchmark scores BT.601 luma; chroma is returned as decoded).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

BLOCK = 8


def _dct_matrix(n: int = BLOCK) -> np.ndarray:
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    matrix = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * x + 1) * k / (2 * n))
    matrix[0] /= np.sqrt(2.0)
    return matrix


_D = _dct_matrix()


def luma_table(jpeg: bytes) -> np.ndarray:
    """The file's luma quantisation table, 8x8 in natural order (Pillow reports natural order)."""
    with Image.open(io.BytesIO(jpeg)) as image:
        tables = getattr(image, "quantization", None)
        if not tables:
            raise ValueError("not a JPEG with quantisation tables")
        return np.asarray(tables[0], dtype=np.float64).reshape(BLOCK, BLOCK)


def _requantised(plane: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Block DCT of a plane whose sides are multiples of 8, each coefficient rounded to the table's step, inverted."""
    h, w = plane.shape
    blocks = plane.reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).transpose(0, 2, 1, 3)
    coefficients = _D @ blocks @ _D.T
    coefficients = np.round(coefficients / table) * table
    restored = _D.T @ coefficients @ _D
    return restored.transpose(0, 2, 1, 3).reshape(h, w)


def reapply_jpeg_luma(luma: np.ndarray, table: np.ndarray) -> np.ndarray:
    """The mean over the 64 block-grid shifts of requantised luma (float, level-shifted inside)."""
    h, w = luma.shape
    padded_h, padded_w = -(-h // BLOCK) * BLOCK + BLOCK, -(-w // BLOCK) * BLOCK + BLOCK
    padded = np.pad(luma - 128.0, ((BLOCK, padded_h - h), (BLOCK, padded_w - w)), mode="symmetric")
    total = np.zeros((h, w))
    for dy in range(BLOCK):
        for dx in range(BLOCK):
            window = padded[dy : dy + padded_h, dx : dx + padded_w]
            restored = _requantised(window, table)
            total += restored[BLOCK - dy : BLOCK - dy + h, BLOCK - dx : BLOCK - dx + w]
    return total / (BLOCK * BLOCK) + 128.0


def deblock_reapplied(jpeg: bytes) -> np.ndarray:
    """The decoded JPEG with its luma deblocked by re-application; uint8 HxWx3 RGB."""
    with Image.open(io.BytesIO(jpeg)) as image:
        ycbcr = np.asarray(image.convert("YCbCr"), dtype=np.float64)
    ycbcr[..., 0] = reapply_jpeg_luma(ycbcr[..., 0], luma_table(jpeg))
    rounded = np.clip(np.round(ycbcr), 0, 255).astype(np.uint8)
    return np.asarray(Image.fromarray(rounded, mode="YCbCr").convert("RGB"))
