"""The runtime's PNG writer (``lumaflow.runtime.png``): any decoder reads back the exact pixels, EXIF and profile."""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms

from lumaflow.bench.png import WRITERS, table
from lumaflow.bench.png import measure as measure_writers
from lumaflow.runtime.png import IDAT_BYTES, filtered_rows, write_png
from tests.fixtures import astronaut

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("shape", "mode"),
    [((1, 1, 3), "RGB"), ((7, 5, 3), "RGB"), ((33, 17, 4), "RGBA"), ((9, 9), "L"), ((12, 3, 2), "LA")],
)
def test_pillow_reads_back_the_exact_pixels_in_each_mode(shape: tuple[int, ...], mode: str) -> None:
    pixels = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
    with Image.open(io.BytesIO(write_png(pixels))) as image:
        assert image.mode == mode and np.array_equal(np.asarray(image), pixels)


def test_a_large_stream_is_split_into_idat_chunks_that_decode_whole() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (900, 800, 3), dtype=np.uint8)  # barely compressible
    written = write_png(noise)
    idat = [data for kind, data in _chunks(written) if kind == b"IDAT"]
    assert len(idat) >= 2 and all(len(data) == IDAT_BYTES for data in idat[:-1]) and 0 < len(idat[-1]) <= IDAT_BYTES
    with Image.open(io.BytesIO(written)) as image:
        assert np.array_equal(np.asarray(image), noise)


def test_the_up_filter_is_each_row_minus_the_row_above() -> None:
    rows = filtered_rows(np.array([[[10, 20, 30]], [[5, 25, 30]]], dtype=np.uint8))
    assert rows.tolist() == [[2, 10, 20, 30], [2, 251, 5, 0]]  # 5 - 10 wraps to 251, as PNG's filter arithmetic does


def test_exif_and_the_colour_profile_are_read_back_as_pillow_writes_them() -> None:
    source = Image.fromarray(astronaut())
    exif = source.getexif()
    exif[0x010F] = "Lumaflow"  # Make
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buffer = io.BytesIO()
    source.save(buffer, format="PNG", exif=exif.tobytes(), icc_profile=icc)
    with (
        Image.open(io.BytesIO(write_png(astronaut(), exif=exif.tobytes(), icc=icc))) as ours,
        Image.open(buffer) as pillow,
    ):
        ours.load(), pillow.load()
        assert ours.getexif()[0x010F] == "Lumaflow" and ours.info["exif"] == pillow.info["exif"]
        assert ours.info["icc_profile"] == icc == pillow.info["icc_profile"]
        assert np.array_equal(np.asarray(ours), astronaut())


def _chunks(written: bytes) -> list[tuple[bytes, bytes]]:
    """The chunks of a PNG file, each checked against its CRC."""
    assert written[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, []
    while position < len(written):
        length = int.from_bytes(written[position : position + 4], "big")
        kind, data = written[position + 4 : position + 8], written[position + 8 : position + 8 + length]
        assert int.from_bytes(written[position + 8 + length : position + 12 + length], "big") == zlib.crc32(kind + data)
        chunks.append((kind, data))
        position += 12 + length
    return chunks


def test_every_chunk_carries_its_crc_and_exif_goes_without_jpegs_prefix() -> None:
    tiff = b"II*\x00\x08\x00\x00\x00\x00\x00"
    chunks = _chunks(write_png(astronaut()[:40, :40], exif=b"Exif\x00\x00" + tiff, icc=b"x" * 200))
    assert [kind for kind, _ in chunks] == [b"IHDR", b"iCCP", b"eXIf", b"IDAT", b"IEND"]
    assert dict(chunks)[b"eXIf"] == tiff


@pytest.mark.parametrize(
    "pixels",
    [
        np.zeros((4, 4, 3), np.float32),
        np.zeros((4, 4, 5), np.uint8),
        np.zeros((0, 4, 3), np.uint8),
        np.zeros(4, np.uint8),
    ],
)
def test_what_is_not_an_8_bit_image_is_refused(pixels: np.ndarray) -> None:
    with pytest.raises(ValueError, match="write_png takes"):
        write_png(pixels)


def test_the_writer_benchmark_times_every_writer_and_checks_what_they_wrote() -> None:
    row = measure_writers(astronaut()[:64, :64], rounds=1)
    assert set(row) == set(WRITERS) and all(entry["ms"] > 0 and entry["kib"] > 0 for entry in row.values())
    assert "| pillow level 1 |" in table({"astronaut": {"megapixels": 64 * 64 / 1e6, "writers": row}})
