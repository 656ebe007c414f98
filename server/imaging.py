"""Pure image I/O for the python-backend stages: decode, pad to size buckets, crop, encode.

No Triton imports here, so every function is unit-tested without a server. Errors a client
caused raise ``InvalidInput`` whose text is the wire message: ``[reason_code] sentence``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from lumaflow.ensemble import contract
from lumaflow.ensemble.stages import SizeBuckets

SUPPORTED_FORMATS = "JPEG, PNG, WebP, TIFF, BMP or GIF"

# Pillow's global decompression-bomb limit would refuse large headers at open() with a vaguer
# message; ``decode_image`` checks each pipeline's own limit on the declared size instead,
# before any pixel is allocated.
Image.MAX_IMAGE_PIXELS = None


class InvalidInput(Exception):
    """A request the client got wrong; ``str()`` is the message sent back as INVALID_ARGUMENT."""

    def __init__(self, reason: str, sentence: str) -> None:
        if reason not in contract.REASON_CODES:
            raise ValueError(f"unknown reason code {reason!r}")
        super().__init__(f"[{reason}] {sentence}")
        self.reason = reason


@dataclass(frozen=True)
class DecodedImage:
    """RGB pixels (uint8, HWC) as the viewer sees them, and what the file said it was."""

    pixels: np.ndarray
    format: str

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


def decode_image(data: bytes, *, max_megapixels: float) -> DecodedImage:
    """Decode an encoded file, checking its declared size before any pixel is allocated."""
    if not data:
        raise InvalidInput(contract.INVALID_IMAGE, "The IMAGE input is empty.")
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise InvalidInput(
            contract.INVALID_IMAGE, f"The IMAGE input is not an image in a supported format ({SUPPORTED_FORMATS})."
        ) from None
    width, height = image.size
    if width < 1 or height < 1:
        raise InvalidInput(contract.INVALID_IMAGE, f"The image declares an empty size ({width}x{height}).")
    megapixels = width * height / 1e6
    if megapixels > max_megapixels:
        raise InvalidInput(
            contract.IMAGE_TOO_LARGE,
            f"The image is {width}x{height} ({megapixels:.1f} megapixels); "
            f"this pipeline accepts at most {max_megapixels:g} megapixels.",
        )
    file_format = image.format or "unknown"
    try:
        image.load()
        upright = ImageOps.exif_transpose(image)
        rgb = upright.convert("RGB")
        pixels = np.asarray(rgb, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, EOFError):
        raise InvalidInput(
            contract.INVALID_IMAGE, f"The {file_format} data is truncated or corrupt and cannot be decoded."
        ) from None
    return DecodedImage(pixels=np.ascontiguousarray(pixels), format=file_format)


def pad_to_buckets(pixels: np.ndarray, buckets: SizeBuckets | None) -> np.ndarray:
    """Pad an HWC image at its bottom and right edges up to its size bucket, by reflection.

    Reflection (not zeros) keeps the padded border photo-like, so the network's output near the
    real edge is not darkened by a black frame; the padding is cropped away after the network.
    """
    if buckets is None:
        return pixels
    height, width = pixels.shape[:2]
    pad_h = buckets.pad_to(height) - height
    pad_w = buckets.pad_to(width) - width
    if pad_h == 0 and pad_w == 0:
        return pixels
    if height > 1 and width > 1:
        return np.pad(pixels, ((0, pad_h), (0, pad_w), (0, 0)), mode="reflect")
    return np.pad(pixels, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")  # nothing to reflect


OUTPUT_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


def encode_image(pixels: np.ndarray, *, fmt: str = "png", quality: int = 92) -> tuple[bytes, str]:
    """Encode uint8 HWC RGB pixels as ``fmt`` (an OPTIONS ``format``); return the bytes and format name."""
    name = OUTPUT_FORMATS[fmt]
    if name == "PNG":
        return encode_png(pixels), name
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format=name, quality=int(quality))
    return buffer.getvalue(), name


def encode_png(pixels: np.ndarray, *, compress_level: int = 1) -> bytes:
    """Encode uint8 HWC RGB pixels as PNG.

    Level 1 by default: on a 1024x1024 photo it took 109 ms for 1334 KiB, against 149 ms for
    1277 KiB at level 3 and 452 ms for 1177 KiB at Pillow's default 6 (2-core CPU machine).
    """
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()
