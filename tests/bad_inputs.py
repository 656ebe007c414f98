"""The bad-input corpus: every way a client can send something wrong, generated from real photos.

Nothing here is a committed file: each case is built in memory, deterministically, from the
photos in ``tests.fixtures`` (truncated, bytes flipped, headers patched by hand with valid CRCs),
so the corpus is small in the repository and the same on every machine. Each ``BadInput`` says
which pipeline it is sent to, what it sends, the reason code the refusal must open with, and the
words its sentence must contain to name the problem.

``layer`` records who refuses it. Most cases reach Lumaflow's own checks (decode, OPTIONS, MASK,
the camera stage) and carry a reason code. Triton checks a request's datatype, rank and batch
size against the model config before any model runs, so a float32 or 4-channel FRAME, or a
missing input, is refused by Triton itself: INVALID_ARGUMENT with Triton's own sentence naming
the input and what is wrong, but no reason code (``reason`` is None for those).
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import random
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tritonclient.grpc as grpcclient
from PIL import Image

from lumaflow import contract
from tests.fixtures import astronaut, encode
from tests.odd_files import heic

# Layers that refuse a case (see the module docstring).
DECODE, OPTIONS, MASK, CAMERA, TRITON = "decode", "options", "mask", "camera stage", "triton"

# What a message must never carry: a traceback, a Python file or line, a path, an exception's class.
LEAK = re.compile(r"Traceback|At:|\.py\b|line \d+, in|site-packages|/|\\|\b[A-Z]\w*(?:Error|Exception):")
ENSEMBLE_PREFIX = re.compile(r"^in ensemble '[\w.-]+', ")


def leaks(message: str) -> list[str]:
    """The parts of ``message`` that give away the server's internals (none, for a good message)."""
    return LEAK.findall(message)


def own_message(message: str) -> str:
    """The composing model's message without Triton's ``in ensemble '<name>', `` prefix."""
    return ENSEMBLE_PREFIX.sub("", message, count=1)


@dataclass(frozen=True)
class BadInput:
    """One bad request: where it goes, what it sends, and how the refusal must read."""

    id: str
    pipeline: str
    reason: str | None  # the bracketed code; None where Triton refuses before our code (layer TRITON)
    words: tuple[str, ...]  # each must appear in the sentence: it names the problem
    layer: str = DECODE
    image: bytes | None = None
    options: bytes | None = None  # raw OPTIONS bytes, sent as they are
    mask: bytes | None = None
    frame: np.ndarray | None = None  # camera pipelines: sent as FRAME with the array's own dtype and shape
    extra: Callable[[], list[grpcclient.InferInput]] | None = None  # hand-built tensors instead of the above

    def inputs(self) -> list[grpcclient.InferInput]:
        if self.extra is not None:
            return self.extra()
        if self.frame is not None:
            return [array_input("FRAME", self.frame)]
        inputs = [bytes_input(contract.IMAGE.name, self.image if self.image is not None else good_png())]
        if self.pipeline == "inpaint":
            inputs.append(bytes_input(contract.MASK.name, self.mask if self.mask is not None else good_mask()))
        if self.options is not None:
            inputs.append(bytes_input(contract.OPTIONS.name, self.options))
        return inputs


def bytes_input(name: str, value: bytes) -> grpcclient.InferInput:
    tensor = grpcclient.InferInput(name, [1, 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[value]], dtype=np.object_))
    return tensor


def array_input(name: str, value: np.ndarray) -> grpcclient.InferInput:
    datatype = {np.dtype(np.uint8): "UINT8", np.dtype(np.uint16): "UINT16", np.dtype(np.float32): "FP32"}
    tensor = grpcclient.InferInput(name, list(value.shape), datatype[value.dtype])
    tensor.set_data_from_numpy(value)
    return tensor


# --- real files to break ---------------------------------------------------------------------------------

PHOTO_SIZE = (64, 48)  # width, height of the photo every file is made from


def photo() -> np.ndarray:
    return astronaut()[100:148, 180:244]


@functools.cache
def good_png() -> bytes:
    return encode(photo(), "PNG")


@functools.cache
def good_mask() -> bytes:
    mask = np.zeros(photo().shape[:2], dtype=np.uint8)
    mask[12:30, 20:40] = 255
    return encode(mask, "PNG")


@functools.cache
def real_files() -> dict[str, bytes]:
    pixels = photo()
    return {
        "JPEG": encode(pixels, "JPEG", quality=90),
        "PNG": good_png(),
        "WebP": encode(pixels, "WEBP", quality=85),
        "TIFF": encode(pixels, "TIFF", compression="tiff_deflate"),
        "HEIC": heic(pixels),
        "GIF": encode(pixels, "GIF"),
        "BMP": encode(pixels, "BMP"),
        "AVIF": encode(pixels, "AVIF", quality=80),
    }


def truncated(name: str, fraction: float) -> bytes:
    data = real_files()[name]
    return data[: int(len(data) * fraction)]


def flipped(data: bytes, start: int, stop: int, seed: int) -> bytes:
    """``data`` with every byte in [start, stop) XORed with a seeded non-zero value."""
    rng = random.Random(seed)
    out = bytearray(data)
    for at in range(start, min(stop, len(out))):
        out[at] ^= rng.randrange(1, 256)
    return bytes(out)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int, height: int, idat: bytes, *, depth: int = 8, colour: int = 0) -> bytes:
    """A PNG written by hand, IHDR declaring ``width`` x ``height`` whatever ``idat`` holds (valid CRCs)."""
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


@functools.cache
def png_bomb() -> bytes:
    """A real decompression bomb: 30000x30000 1-bit black, every row present, about 110 KB (900 MP decoded)."""
    row = b"\x00" + bytes((30000 + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(30000)) + compressor.flush()
    return png(30000, 30000, body, depth=1)


def jpeg_declaring(width: int, height: int) -> bytes:
    """The real JPEG with its frame header (SOF0) patched to declare another size."""
    data = bytearray(real_files()["JPEG"])
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_declaring(width: int, height: int) -> bytes:
    """The real GIF with its logical screen and its first frame's descriptor patched to another size."""
    data = bytearray(real_files()["GIF"])
    data[6:10] = struct.pack("<HH", width, height)  # the logical screen
    at = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)  # past the global colour table
    while data[at] == 0x21:  # extensions: label, then sub-blocks until a zero length
        at += 2
        while data[at]:
            at += data[at] + 1
        at += 1
    if data[at] != 0x2C:
        raise ValueError("no image descriptor where the GIF should have one")
    data[at + 5 : at + 9] = struct.pack("<HH", width, height)  # the frame's own size (Pillow grows the screen to it)
    return bytes(data)


def bmp_declaring(width: int, height: int) -> bytes:
    data = bytearray(real_files()["BMP"])
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def tiff_declaring(width: int, height: int) -> bytes:
    """An uncompressed TIFF whose ImageWidth/ImageLength tags are patched (the strip stays 64x48)."""
    data = encode(photo(), "TIFF")
    out = bytearray(data)
    (ifd,) = struct.unpack("<I", data[4:8])
    (count,) = struct.unpack("<H", data[ifd : ifd + 2])
    for entry in range(ifd + 2, ifd + 2 + 12 * count, 12):
        tag, kind = struct.unpack("<HH", data[entry : entry + 4])
        if tag in (256, 257):
            value = width if tag == 256 else height
            out[entry + 8 : entry + 12] = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
    return bytes(out)


def webp_declaring(width: int, height: int) -> bytes:
    """The real lossless WebP with its VP8L header patched to declare another size (14 bits each, up to 16384)."""
    data = bytearray(encode(photo(), "WEBP", lossless=True))
    at = data.index(b"VP8L") + 8  # past the chunk's tag and length: the 0x2F signature byte
    bits = int.from_bytes(data[at + 1 : at + 5], "little")
    bits = (bits & ~((1 << 28) - 1)) | (width - 1) | ((height - 1) << 14)
    data[at + 1 : at + 5] = bits.to_bytes(4, "little")
    return bytes(data)


@functools.cache
def huge_grey_png(width: int, height: int) -> bytes:
    """A valid, fully decodable flat-grey PNG: small on the wire, large in pixels."""
    buffer = io.BytesIO()
    Image.new("L", (width, height), 128).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


@functools.cache
def large_photo_jpeg(width: int, height: int) -> bytes:
    """A valid photo larger than a pipeline's limit: the astronaut tiled."""
    tiled = np.tile(astronaut(), (height // 512 + 1, width // 512 + 1, 1))[:height, :width]
    return encode(np.ascontiguousarray(tiled), "JPEG", quality=80)


def heic_short_extent() -> bytes:
    """The real HEIC with its item's extent (iloc) 100 bytes shorter than the HEVC data it points at.

    The header reads fine; decoding the pixels fails in libheif ("Unexpected end of file"), which
    pillow-heif raises as EOFError. Found by the MASK fuzz (tests/test_decoder_fuzz.py).
    """
    data = bytearray(real_files()["HEIC"])
    payload = len(data) - (data.index(b"mdat") + 4)  # the mdat box runs to the end of the file
    at = data.index(struct.pack(">I", payload), data.index(b"iloc"))
    data[at : at + 4] = struct.pack(">I", payload - 100)
    return bytes(data)


def exif_rotated_mask(height: int = 48, width: int = 64) -> bytes:
    """A mask stored ``width`` wide and ``height`` high with EXIF orientation 6: upright, ``height`` x ``width``."""
    mask = np.zeros((height, width), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.fromarray(mask).save(buffer, format="JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def options(value: object) -> bytes:
    return json.dumps(value).encode()


def frame(height: int = 48, width: int = 64, channels: int = 3, dtype: type = np.uint8) -> np.ndarray:
    """A camera frame, batch of one, from the real photo (zeros where the photo has no such size)."""
    if height * width * channels == 0 or channels != 3:
        return np.zeros((1, height, width, channels), dtype=dtype)
    return np.ascontiguousarray(astronaut()[:height, :width][None].astype(dtype))


def two_images() -> list[grpcclient.InferInput]:
    tensor = grpcclient.InferInput(contract.IMAGE.name, [2, 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[good_png()], [good_png()]], dtype=np.object_))
    return [tensor]


def image_as_uint8() -> list[grpcclient.InferInput]:
    return [array_input(contract.IMAGE.name, np.frombuffer(good_png(), dtype=np.uint8)[None].copy())]


def no_mask() -> list[grpcclient.InferInput]:
    return [bytes_input(contract.IMAGE.name, good_png())]


# --- the corpus ------------------------------------------------------------------------------------------

FAST = "upscale_x2_fast"  # the cheapest photo pipeline: most IMAGE cases go here
II, TOO_LARGE = contract.INVALID_IMAGE, contract.IMAGE_TOO_LARGE
NOT_IMAGE = "not an image"
HEADER = "truncated or corrupt"
Words = tuple[str, ...]


def image(id_: str, reason: str, words: Words, data: bytes, pipeline: str = FAST) -> BadInput:
    return BadInput(id_, pipeline, reason, words, image=data)


def option(id_: str, words: Words, raw: bytes, pipeline: str = FAST) -> BadInput:
    return BadInput(id_, pipeline, contract.INVALID_OPTIONS, words, layer=OPTIONS, options=raw)


def mask(id_: str, reason: str, words: Words, data: bytes) -> BadInput:
    return BadInput(id_, "inpaint", reason, words, layer=MASK, mask=data)


def camera(id_: str, pipeline: str, reason: str | None, words: Words, array: np.ndarray) -> BadInput:
    return BadInput(id_, pipeline, reason, words, layer=CAMERA if reason else TRITON, frame=array)


def tensors(id_: str, pipeline: str, reason: str | None, words: Words, build: Callable[[], list]) -> BadInput:
    return BadInput(id_, pipeline, reason, words, layer=DECODE if reason else TRITON, extra=build)


def corpus() -> list[BadInput]:
    """Every case, built on first use (the bomb takes a fraction of a second to compress)."""
    return list(_corpus())


@functools.cache
def _corpus() -> tuple[BadInput, ...]:
    jpeg, png_file, webp, tiff, heif = (real_files()[name] for name in ("JPEG", "PNG", "WebP", "TIFF", "HEIC"))
    mp4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(32)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48"><circle r="9"/></svg>'
    cases = [
        # Truncated and corrupt files of every format the decoder reads.
        image("jpeg-truncated-half", II, ("JPEG", "truncated"), truncated("JPEG", 0.5)),
        image("jpeg-truncated-in-header", II, ("JPEG", HEADER), truncated("JPEG", 0.1)),
        image("jpeg-corrupt-huffman-tables", II, ("JPEG", "corrupt"), flipped(jpeg, 180, 400, 2)),
        image("jpeg-corrupt-frame-header", II, ("JPEG", "corrupt"), flipped(jpeg, 150, 175, 2), "denoise"),
        image("png-truncated-in-idat", II, ("PNG", "truncated"), truncated("PNG", 0.5)),
        image("png-signature-and-header-only", II, ("PNG", "truncated"), png_file[:33]),
        image("png-corrupt-idat", II, ("PNG", "corrupt"), flipped(png_file, 200, 600, 3)),
        image("png-bad-header-crc", II, ("PNG", HEADER), flipped(png_file, 29, 33, 4)),
        image("webp-truncated", II, ("WebP", "truncated"), truncated("WebP", 0.6)),
        image("webp-corrupt-bitstream-header", II, ("WebP", "corrupt"), flipped(webp, 20, 40, 5)),
        image("tiff-truncated", II, ("TIFF", "truncated"), truncated("TIFF", 0.5)),
        image("tiff-corrupt-directory", II, ("TIFF", "corrupt"), flipped(tiff, 4, 8, 6)),
        image("heic-truncated", II, ("HEI", "truncated"), truncated("HEIC", 0.5)),
        image("heic-header-only", II, ("HEIC", HEADER), heif[:40], "dejpeg"),
        image("heic-corrupt-item-boxes", II, ("HEIC", "corrupt"), flipped(heif, 120, 300, 7)),
        image("heic-short-item-extent", II, ("HEIF", "truncated or corrupt"), heic_short_extent()),
        image("gif-truncated", II, ("GIF", "truncated"), truncated("GIF", 0.5)),
        image("bmp-truncated", II, ("BMP", "truncated"), truncated("BMP", 0.5)),
        image("avif-truncated", II, ("AVIF", "truncated"), truncated("AVIF", 0.5)),
        # Nothing, or noise.
        image("empty", II, ("IMAGE", "empty"), b""),
        image("random-bytes", II, (NOT_IMAGE, "supported format"), random.Random(8).randbytes(4096)),
        image("zero-bytes", II, (NOT_IMAGE, "supported format"), bytes(1024), "upscale_x4"),
        image("one-byte", II, (NOT_IMAGE, "supported format"), b"\xff"),
        # Headers that declare no pixels at all (hand-written, valid CRCs).
        image("png-0x0", II, ("PNG", "empty size", "0x0"), png(0, 0, zlib.compress(b""))),
        image("png-0-wide", II, ("PNG", "empty size", "0x48"), png(0, 48, zlib.compress(b"\0" * 48))),
        image("jpeg-0x0", II, ("JPEG", "empty size", "0x0"), jpeg_declaring(0, 0)),
        image("gif-0-high", II, ("GIF", "empty size", "64x0"), gif_declaring(64, 0)),
        image("bmp-0x0", II, ("BMP", "empty size", "0x0"), bmp_declaring(0, 0)),
        # Decompression bombs: small files that decode to gigabytes; refused from the header.
        image("png-bomb-30000x30000", TOO_LARGE, ("30000x30000", "megapixels"), png_bomb()),
        image("gif-bomb-30000x30000", TOO_LARGE, ("30000x30000", "megapixels"), gif_declaring(30000, 30000)),
        image("webp-bomb-16384x16384", TOO_LARGE, ("16384x16384", "megapixels"), webp_declaring(16384, 16384)),
        image("tiff-bomb-60000x60000", TOO_LARGE, ("60000x60000", "megapixels"), tiff_declaring(60000, 60000)),
        # Absurd declared sizes.
        image("jpeg-65535x65535", TOO_LARGE, ("65535x65535", "megapixels"), jpeg_declaring(65535, 65535)),
        image("bmp-100000x100000", TOO_LARGE, ("100000x100000", "megapixels"), bmp_declaring(100000, 100000)),
        image("png-2147483647-wide", TOO_LARGE, ("2147483647x1", "megapixels"), png(2**31 - 1, 1, b"")),
        image("jpeg-65535-wide-strip", TOO_LARGE, ("65535x48", "megapixels"), jpeg_declaring(65535, 48), "upscale_x8"),
        # Huge but valid: decodable images over the pipeline's limits (refused before decoding).
        image("png-4100x4100-over-16mp", TOO_LARGE, ("4100x4100", "16 megapixels"), huge_grey_png(4100, 4100)),
        image(
            "jpeg-1100x1000-over-1mp",
            TOO_LARGE,
            ("1100x1000", "1 megapixels"),
            large_photo_jpeg(1100, 1000),
            "upscale_x8",
        ),
        image(
            "jpeg-1500x1500-over-2mp",
            TOO_LARGE,
            ("1500x1500", "2 megapixels"),
            large_photo_jpeg(1500, 1500),
            "upscale_x4_realistic",
        ),
        image(
            "png-3600x3600-over-12mp",
            TOO_LARGE,
            ("3600x3600", "12 megapixels"),
            huge_grey_png(3600, 3600),
            "photo_enhance",
        ),
        BadInput(  # refused by the router once it has chosen the scale, after decode
            "result-over-64mp-at-scale-4",
            "photo_enhance",
            TOO_LARGE,
            ("scale 4", "8400x8400", "64 megapixels"),
            image=huge_grey_png(2100, 2100),
            options=options({"scale": 4}),
        ),
        image("file-over-64mb", TOO_LARGE, ("65.0 MB", "64 MB"), b"\x89PNG\r\n\x1a\n" + bytes(65_000_000)),
        # Not images at all.
        image("pdf", II, ("PDF", NOT_IMAGE), b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n"),
        image("svg", II, ("SVG", NOT_IMAGE), svg),
        image("svg-with-xml-declaration", II, ("SVG", NOT_IMAGE), b'<?xml version="1.0"?>\n<svg></svg>', "inpaint"),
        image("html", II, ("HTML", NOT_IMAGE), b"<!DOCTYPE html>\n<html><body><img src=photo.jpg></body></html>"),
        image("zip", II, ("ZIP", NOT_IMAGE), b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(40)),
        image("gzip", II, ("gzip", NOT_IMAGE), gzip.compress(b"a photo")),
        image("plain-text", II, ("text", NOT_IMAGE), b"Please enhance my holiday photo, thanks!\n"),
        image("json-text", II, ("text", NOT_IMAGE), options({"image": "photo.jpg"})),
        image("mp4-video", II, ("video", NOT_IMAGE), mp4),
        # The IMAGE tensor itself is wrong.
        tensors("two-images-in-one-request", FAST, II, ("one image per request", "[2, 1]"), two_images),
        tensors("image-as-uint8-tensor", FAST, None, ("IMAGE", "UINT8", "BYTES"), image_as_uint8),
        tensors("no-image", FAST, None, ("IMAGE", "missing"), list),
        # OPTIONS: malformed, wrong types, out of range, unknown keys.
        option("options-not-json", ("OPTIONS", "not valid JSON"), b"{quality: 50"),
        option("options-not-utf8", ("OPTIONS", "not valid JSON"), b"\xff\xfe{}"),
        option("options-a-list", ("OPTIONS", "JSON object", "list"), b"[1, 2]"),
        option("options-a-string", ("OPTIONS", "JSON object", "str"), b'"png"'),
        option("options-quality-a-string", ("OPTIONS.quality", "integer"), options({"quality": "high"})),
        option("options-quality-500", ("OPTIONS.quality", "maximum of 100"), options({"quality": 500})),
        option("options-quality-0", ("OPTIONS.quality", "minimum of 1"), options({"quality": 0})),
        option("options-quality-fractional", ("OPTIONS.quality", "integer"), options({"quality": 90.5})),
        option("options-format-gif", ("OPTIONS.format", "'gif'"), options({"format": "gif"})),
        option("options-keep-gps-a-number", ("OPTIONS.keep_gps", "boolean"), options({"keep_gps": 1})),
        option("options-unknown-key", ("'qualty'", "Known keys"), options({"qualty": 90})),
        option(
            "options-noise-level-negative", ("OPTIONS.noise_level", "minimum"), options({"noise_level": -5}), "denoise"
        ),
        option("options-noise-level-nan", ("OPTIONS", "NaN"), b'{"noise_level": NaN}', "denoise"),
        option("options-noise-level-infinity", ("OPTIONS", "Infinity"), b'{"noise_level": Infinity}', "denoise"),
        option("options-nested-too-deeply", ("OPTIONS", "nested too deeply"), b"[" * 50_000),
        option("options-unknown-preset", ("OPTIONS.preset", "'vivid'"), options({"preset": "vivid"}), "photo_enhance"),
        option("options-scale-3", ("OPTIONS.scale", "3"), options({"scale": 3}), "photo_enhance"),
        option("options-mask-grow-99", ("OPTIONS.mask_grow", "maximum of 32"), options({"mask_grow": 99}), "inpaint"),
        # MASK: the wrong size, or not a readable image.
        mask("mask-smaller", contract.MASK_MISMATCH, ("mask", "32x32", "64x48"), encode(np.zeros((32, 32), np.uint8))),
        mask(
            "mask-transposed", contract.MASK_MISMATCH, ("mask", "48x64", "64x48"), encode(np.zeros((64, 48), np.uint8))
        ),
        mask("mask-exif-rotated", contract.MASK_MISMATCH, ("mask", "48x64 (upright)"), exif_rotated_mask()),
        mask(
            "mask-exif-rotated-smaller", contract.MASK_MISMATCH, ("32x16 (upright)", "64x48"), exif_rotated_mask(32, 16)
        ),
        mask("mask-bomb-30000x30000", contract.MASK_MISMATCH, ("mask", "30000x30000", "64x48"), png_bomb()),
        mask("mask-empty", II, ("MASK", "empty"), b""),
        mask("mask-truncated", II, ("MASK", "not a readable image"), good_mask()[:60]),
        mask("mask-heic-short-item-extent", II, ("MASK", "not a readable image"), heic_short_extent()),
        mask("mask-text", II, ("MASK", "not a readable image"), b"remove the dog"),
        tensors("mask-missing", "inpaint", None, ("MASK", "missing"), no_mask),
        # Raw camera frames of the wrong dtype or shape.
        camera("frame-zero-height", "camera_x2", II, ("frame", "empty", "64x0"), frame(0, 64)),
        camera("frame-zero-width", "camera_x1", II, ("frame", "empty", "0x48"), frame(48, 0)),
        camera("frame-float32", "camera_x2", None, ("FRAME", "FP32", "UINT8"), frame(dtype=np.float32)),
        camera("frame-uint16", "camera_x1", None, ("FRAME", "UINT16", "UINT8"), frame(dtype=np.uint16)),
        camera("frame-four-channels", "camera_x2", None, ("FRAME", "shape", "[1,48,64,4]"), frame(channels=4)),
        camera("frame-one-channel", "camera_x1", None, ("FRAME", "shape", "[1,48,64,1]"), frame(channels=1)),
        # A 2-D frame's first axis is read as the batch: Triton says the batch is too large, not "2-D".
        camera("frame-2d-grey", "camera_x2", None, ("batch-size", "8"), frame()[0, :, :, 0].copy()),
        tensors("frame-missing", "camera_x2", None, ("FRAME", "missing"), list),
    ]
    ids = [case.id for case in cases]
    duplicates = {name for name in ids if ids.count(name) > 1}
    if duplicates:
        raise ValueError(f"duplicate corpus ids: {sorted(duplicates)}")
    return tuple(cases)
