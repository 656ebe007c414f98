"""PNG written directly: rows filtered with numpy, deflated by ISA-L; what encode sends for ``format: png``.

Pillow's PNG writer chooses a filter for each row by trying all five, then deflates with zlib. Both steps
are single-threaded C, and at compress level 1 they take about 55-80 ms a megapixel on the 2-core CPU machine.
Here every row gets the Up filter (one numpy subtraction), and ISA-L's deflate (``isal``, level 2) compresses
the stream. That is 8-10x faster, and files stay within ±5 % of Pillow's level 1. The measurements and the
choice are in docs/performance.md ("PNG encode").
The file is a plain PNG: 8-bit grey, grey+alpha, RGB or RGBA, not interlaced; ``eXIf`` carries the EXIF and
``iCCP`` the colour profile, the chunks Pillow writes for ``exif=`` and ``icc_profile=``.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
from isal import isal_zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type: grey, grey+alpha, RGB, RGBA
UP = 2  # PNG filter type: each byte minus the byte above it
DEFLATE_LEVEL = 2  # ISA-L's levels 0-3; 2 is as fast as 1 here and a little smaller (docs/performance.md)
IDAT_BYTES = 1 << 20  # the deflated stream in chunks of 1 MiB, as most writers split it
EXIF_HEADER = b"Exif\x00\x00"  # JPEG's APP1 prefix; eXIf holds the TIFF structure without it
ICC_NAME = b"ICC Profile"  # the profile's name in iCCP, as Pillow writes it


def _chunk(kind: bytes, data: bytes | memoryview) -> bytes:
    return struct.pack(">I", len(data)) + kind + bytes(data) + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def filtered_rows(pixels: np.ndarray) -> np.ndarray:
    """Each row of ``pixels`` (uint8, HW or HWC) as PNG's Up filter writes it: the filter byte, then the row minus the
    row above (the first row as it is); uint8 arithmetic wraps modulo 256, as the filter's does. Deflate reads the
    array's buffer as it is: a 64-megapixel result is not copied once more into bytes."""
    rows = pixels.reshape(pixels.shape[0], -1)
    out = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.uint8)
    out[:, 0] = UP
    out[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=out[1:, 1:])
    return out


def write_png(pixels: np.ndarray, *, exif: bytes = b"", icc: bytes | None = None) -> bytes:
    """``pixels`` (uint8: HW grey, or HWC with 1-4 channels) as a PNG file, with ``exif`` and ``icc`` when given."""
    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3):
        raise ValueError(f"write_png takes uint8 HW or HWC pixels, got {pixels.dtype} {list(pixels.shape)}")
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    if channels not in COLOUR_TYPES or min(pixels.shape[:2]) < 1:
        raise ValueError(f"write_png takes 1-4 channels and at least one pixel, got {list(pixels.shape)}")
    height, width = pixels.shape[:2]
    parts = [SIGNATURE, _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, COLOUR_TYPES[channels], 0, 0, 0))]
    if icc:
        parts.append(_chunk(b"iCCP", ICC_NAME + b"\x00\x00" + zlib.compress(icc)))
    if exif:
        parts.append(_chunk(b"eXIf", exif.removeprefix(EXIF_HEADER)))
    stream = memoryview(isal_zlib.compress(filtered_rows(np.ascontiguousarray(pixels)), DEFLATE_LEVEL))
    parts.extend(_chunk(b"IDAT", stream[start : start + IDAT_BYTES]) for start in range(0, len(stream), IDAT_BYTES))
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)
