"""Decode, pad and encode as pure functions, on real photos and broken files."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from lumaflow.ensemble.stages import PHOTO_BUCKETS
from lumaflow.runtime.errors import InvalidInput
from lumaflow.runtime.imaging import Limits, decode_image, pad_to_buckets
from lumaflow.runtime.png import write_png
from tests.fixtures import astronaut, encode

pytestmark = pytest.mark.unit


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` but carries almost no data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")


def test_a_real_jpeg_decodes_to_rgb() -> None:
    decoded = decode_image(encode(astronaut(), "JPEG", quality=92), limits=Limits(4))
    assert decoded.pixels.shape == (512, 512, 3) and decoded.pixels.dtype == np.uint8
    assert decoded.format == "JPEG" and (decoded.width, decoded.height) == (512, 512)
    assert decoded.jpeg_quality == 92 and decoded.describe()["jpeg_quality"] == 92  # from its own tables


def test_only_a_jpeg_reports_a_quality() -> None:
    png = decode_image(encode(astronaut()), limits=Limits(4))
    assert png.jpeg_quality is None and "jpeg_quality" not in png.describe()


def test_grey_and_palette_images_become_rgb() -> None:
    grey = Image.fromarray(astronaut()).convert("L")
    palette = Image.fromarray(astronaut()).convert("P")
    for image in (grey, palette):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        assert decode_image(buffer.getvalue(), limits=Limits(4)).pixels.shape == (512, 512, 3)


def test_declared_size_is_checked_before_pixels_are_allocated() -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_image(png_declaring(60_000, 60_000), limits=Limits(4.2))
    assert str(caught.value).startswith("[image_too_large] The image is 60000x60000 (3600.0 megapixels)")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"", "[invalid_image] The IMAGE input is empty."),
        (b"%PDF-1.4 not an image", "[invalid_image] The IMAGE input is not an image"),
        (encode(astronaut(), "JPEG")[:2000], "[invalid_image] The JPEG data is truncated or corrupt"),
        (png_declaring(64, 64), "[invalid_image] The PNG data is truncated or corrupt"),
    ],
    ids=["empty", "pdf", "truncated-jpeg", "png-without-pixels"],
)
def test_broken_files_say_what_is_wrong(payload: bytes, expected: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_image(payload, limits=Limits(4))
    assert str(caught.value).startswith(expected)
    assert caught.value.reason in ("invalid_image", "image_too_large")


def test_padding_reflects_and_reaches_the_bucket() -> None:
    photo = astronaut()[:300, :200]
    padded = pad_to_buckets(photo, PHOTO_BUCKETS)
    assert padded.shape == (384, 256, 3)
    assert np.array_equal(padded[:300, :200], photo)
    assert np.array_equal(padded[300, :200], photo[298])  # reflection about the last row
    assert np.array_equal(padded[:300, 200], photo[:, 198])
    tiny = np.full((1, 1, 3), 7, dtype=np.uint8)
    assert np.array_equal(pad_to_buckets(tiny, PHOTO_BUCKETS), np.full((64, 64, 3), 7, dtype=np.uint8))


def test_png_round_trip_is_lossless() -> None:
    photo = astronaut()[:100, :150]
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(write_png(photo)))), photo)


def test_unknown_reason_codes_are_a_programming_error() -> None:
    with pytest.raises(ValueError):
        InvalidInput("oops", "never sent")
