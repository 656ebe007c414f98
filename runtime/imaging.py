"""Pure image I/O for the serving models: decode, pad to size buckets, crop, encode.

No Triton imports here, so every function is unit-tested without a server. Errors a client
caused raise ``InvalidInput`` whose text is the wire message: ``[reason_code] sentence``.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from lumaflow import contract
from lumaflow.params import SizeBuckets
from lumaflow.runtime.colour import SourceProfile, from_srgb, is_srgb, read_profile, to_srgb
from lumaflow.runtime.errors import InvalidInput
from lumaflow.runtime.jpeg_quality import estimate_jpeg_quality
from lumaflow.runtime.metadata import output_exif
from lumaflow.runtime.png import write_png

SUPPORTED_FORMATS = "JPEG, PNG, WebP, TIFF, BMP, GIF, HEIC or AVIF"

try:  # HEIC/HEIF through the pillow-heif plugin (the server extra installs it); AVIF is built into Pillow
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - a server without the extra refuses HEIC as unsupported
    pass

# Pillow's global decompression-bomb limit would refuse large headers at open() with a vaguer
# message; ``decode_image`` checks each pipeline's own limit on the declared size instead,
# before any pixel is allocated.
Image.MAX_IMAGE_PIXELS = None

GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
# What Pillow and pillow-heif raise for a file whose pixels cannot be decoded: pillow-heif raises EOFError for
# corrupt HEIC data (an item extent shorter than its bitstream); a truncated multi-frame GIF or TIFF, counted
# (n_frames) or loaded, raises IndexError, struct.error or TypeError from Pillow's parsers (found by a sweep of
# truncation points, tests/test_odd_inputs.py).
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError, struct.error)


@dataclass(frozen=True)
class Limits:
    """What one pipeline accepts, checked before any pixel is allocated."""

    max_megapixels: float
    max_megabytes: float = 64.0
    max_output_megapixels: float = float("inf")
    scale: int = 1


@dataclass(frozen=True)
class DecodedImage:
    """sRGB pixels (uint8, HWC) as the viewer sees them, and what the file carried besides.

    ``alpha`` is the transparency plane (HW, same size) or None when the image is opaque;
    ``profile`` the embedded ICC profile the pixels were converted from (None: taken as sRGB);
    ``exif`` the EXIF block to write back (orientation and, unless asked, GPS removed).
    """

    pixels: np.ndarray
    format: str
    mode: str = "RGB"
    alpha: np.ndarray | None = None
    profile: SourceProfile | None = None
    exif: bytes = b""
    notes: dict[str, object] = field(default_factory=dict)
    jpeg_quality: float | None = None  # a JPEG's quality, read back from its quantisation tables

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def grey(self) -> bool:
        return self.mode in GREY_MODES

    def describe(self) -> dict[str, object]:
        """What INFO reports of the input."""
        return {
            "width": self.width,
            "height": self.height,
            "format": self.format,
            "mode": self.mode,
            "alpha": self.alpha is not None,
            "icc": self.profile.description if self.profile else None,
            **({"jpeg_quality": round(self.jpeg_quality)} if self.jpeg_quality is not None else {}),
            **self.notes,
        }


def _open(data: bytes, limits: Limits) -> Image.Image:
    if not data:
        raise InvalidInput(contract.INVALID_IMAGE, "The IMAGE input is empty.")
    megabytes = len(data) / 1e6
    if megabytes > limits.max_megabytes:
        raise InvalidInput(
            contract.IMAGE_TOO_LARGE,
            f"The file is {megabytes:.1f} MB; this pipeline accepts at most {limits.max_megabytes:g} MB.",
        )
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, *DECODE_ERRORS):
        raise InvalidInput(contract.INVALID_IMAGE, _unreadable(data)) from None
    width, height = image.size
    if width < 1 or height < 1:
        raise InvalidInput(contract.INVALID_IMAGE, f"The image declares an empty size ({width}x{height}).")
    megapixels = width * height / 1e6
    if megapixels > limits.max_megapixels:
        raise InvalidInput(
            contract.IMAGE_TOO_LARGE,
            f"The image is {width}x{height} ({megapixels:.1f} megapixels); "
            f"this pipeline accepts at most {limits.max_megapixels:g} megapixels.",
        )
    output_megapixels = megapixels * limits.scale**2
    if output_megapixels > limits.max_output_megapixels:
        raise InvalidInput(
            contract.IMAGE_TOO_LARGE,
            f"The result would be {width * limits.scale}x{height * limits.scale} ({output_megapixels:.1f} "
            f"megapixels); this pipeline writes at most {limits.max_output_megapixels:g} megapixels.",
        )
    return image


# What a file Pillow cannot open starts with, so the refusal can say what was sent instead of an image.
IMAGE_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
BMP_HEADER_SIZES = (12, 40, 52, 56, 64, 108, 124)  # "BM" alone starts too many texts
OTHER_SIGNATURES = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x7fELF", "a program (ELF)"),
    (b"%!PS", "a PostScript document"),
)
ISO_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"hevc": "HEIC", b"mif1": "HEIC", b"msf1": "HEIC", b"avif": "AVIF"}
# A JPEG's frame header (SOFn) holds its declared size; these markers carry no length field.
JPEG_SOF = {*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), *range(0xCD, 0xD0)}
JPEG_STANDALONE = {0x01, 0xD8, *range(0xD0, 0xD8)}


def sniff(data: bytes) -> tuple[str, bool] | None:
    """What ``data`` looks like from its first bytes: (a name, whether it is an image format we read), or None."""
    for magic, name in IMAGE_SIGNATURES:
        if data.startswith(magic):
            return name, True
    if data[:2] == b"BM" and int.from_bytes(data[14:18], "little") in BMP_HEADER_SIZES:
        return "BMP", True
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP", True
    if data[4:8] == b"ftyp":
        brand = ISO_BRANDS.get(data[8:12])
        return (brand, True) if brand else ("an MP4 or QuickTime video", False)
    for magic, name in OTHER_SIGNATURES:
        if data.startswith(magic):
            return name, False
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "an SVG (vector) drawing", False
    if head.startswith((b"<!doctype html", b"<html")):
        return "an HTML page", False
    if head.startswith(b"<?xml"):
        return "an XML document", False
    try:
        text = data[:1024].decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text.strip() and all(char.isprintable() or char in "\t\r\n" for char in text):
        return "text", False
    return None


def declared_size(data: bytes, name: str) -> tuple[int, int] | None:
    """The width and height a PNG, GIF, BMP or JPEG header declares, read without Pillow (which refuses 0)."""
    if name == "PNG" and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if name == "GIF" and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return width, height
    if name == "BMP" and len(data) >= 26 and data[14:18] != b"\x0c\x00\x00\x00":
        width, height = struct.unpack("<ii", data[18:26])
        return abs(width), abs(height)
    if name == "JPEG":
        at = 2
        while at + 9 <= len(data) and data[at] == 0xFF:
            marker = data[at + 1]
            if marker in JPEG_SOF:
                height, width = struct.unpack(">HH", data[at + 5 : at + 9])
                return width, height
            at += 2 if marker in JPEG_STANDALONE else 2 + struct.unpack(">H", data[at + 2 : at + 4])[0]
    return None


def _unreadable(data: bytes) -> str:
    """The sentence for a file Pillow cannot open: what it is instead, or which part of an image is broken."""
    kind = sniff(data)
    if kind is None:
        return f"The IMAGE input is not an image in a supported format ({SUPPORTED_FORMATS})."
    name, is_image = kind
    if not is_image:
        return f"The IMAGE input is not an image: it is {name}. Send {SUPPORTED_FORMATS}."
    size = declared_size(data, name)
    if size is not None and min(size) < 1:
        return f"The {name} image declares an empty size ({size[0]}x{size[1]})."
    return f"The IMAGE input starts like a {name} file but is truncated or corrupt: its header cannot be read."


def _to_8bit(image: Image.Image) -> Image.Image:
    """High-bit-depth grey and float modes scaled (not clipped) to 8 bits; other modes unchanged.

    Pillow already reduces 16-bit RGB(A) PNG/TIFF to 8 bits per channel correctly, but its
    ``convert`` of a 16-bit grey image ("I;16") clips every value above 255 to white.
    """
    if image.mode.startswith("I;16") or image.mode == "I":
        values = np.asarray(image, dtype=np.float64)
        return Image.fromarray(np.clip(np.round(values / 257.0), 0, 255).astype(np.uint8), mode="L")
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if values.size and np.nanmax(values) > 1.0:
            values = values / 255.0  # a float image on the 0-255 scale
        return Image.fromarray(np.clip(np.round(np.nan_to_num(values) * 255.0), 0, 255).astype(np.uint8), mode="L")
    return image


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode in ("P", "L", "RGB") and "transparency" in image.info)


def _apply_profile(
    image: Image.Image, profile: SourceProfile, has_alpha: bool, notes: dict[str, object]
) -> tuple[Image.Image, SourceProfile | None]:
    """The image in sRGB, or unchanged (with a note) when its profile does not fit its pixels."""
    if image.mode not in ("RGB", "RGBA", "L", "LA", "CMYK"):
        image = image.convert("RGBA" if has_alpha else "RGB")
    try:
        return to_srgb(image, profile), profile
    except ImageCms.PyCMSError as error:
        notes["icc"] = f"{profile.description!r} could not be applied ({error}); pixels taken as sRGB"
        return image, None


def _jpeg_quality(image: Image.Image) -> float | None:
    """The quality a JPEG was saved at, from its quantisation tables (None for other formats or odd tables)."""
    tables = getattr(image, "quantization", None) if image.format == "JPEG" else None
    if not tables or 0 not in tables:
        return None
    try:
        return estimate_jpeg_quality(tables)
    except ValueError:
        return None


def decode_image(data: bytes, *, limits: Limits, keep_gps: bool = False) -> DecodedImage:
    """Decode an encoded file to upright sRGB pixels, checking the limits before any pixel is allocated."""
    image = _open(data, limits)
    file_format = image.format or "unknown"
    notes: dict[str, object] = {}
    jpeg_quality = _jpeg_quality(image)
    try:
        frames = int(getattr(image, "n_frames", 1))  # counting seeks through every frame of the file
        if frames > 1:
            notes["frames"] = f"{frames} (the first is used)"
        image.load()
        mode = image.mode
        exif, exif_notes = output_exif(image, keep_gps=keep_gps)
        notes.update(exif_notes)
        icc = image.info.get("icc_profile")
        upright = ImageOps.exif_transpose(image)
        profile = read_profile(icc) if icc else None
        if icc and profile is None:
            notes["icc"] = "unreadable, pixels taken as sRGB"
        has_alpha = _has_alpha(upright)
        working = _to_8bit(upright)
        if has_alpha and working.mode not in ("RGBA", "LA"):
            working = working.convert("RGBA")
        if profile is not None and not is_srgb(profile):
            working, profile = _apply_profile(working, profile, has_alpha, notes)
        rgba = working.convert("RGBA" if has_alpha else "RGB")
        pixels = np.asarray(rgba, dtype=np.uint8)
    except (*DECODE_ERRORS, ImageCms.PyCMSError):
        raise InvalidInput(
            contract.INVALID_IMAGE, f"The {file_format} data is truncated or corrupt and cannot be decoded."
        ) from None
    alpha = None
    if has_alpha and pixels[..., 3].min() < 255:  # a fully opaque alpha plane carries nothing
        alpha = np.ascontiguousarray(pixels[..., 3])
    return DecodedImage(
        pixels=np.ascontiguousarray(pixels[..., :3]),
        format=file_format,
        mode=mode,
        alpha=alpha,
        profile=profile,
        exif=exif,
        notes=notes,
        jpeg_quality=jpeg_quality,
    )


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
FLATTEN_ONTO = (255, 255, 255)


def encode_image(
    pixels: np.ndarray,
    *,
    fmt: str = "png",
    quality: int = 92,
    alpha: np.ndarray | None = None,
    grey: bool = False,
    exif: bytes = b"",
    profile: SourceProfile | None = None,
) -> tuple[bytes, str, dict[str, object]]:
    """Encode sRGB uint8 HWC pixels as ``fmt`` (an OPTIONS ``format``) with what the input carried.

    ``alpha`` (any size) is resized to the pixels and re-attached, or flattened onto white for
    JPEG; ``grey`` writes one channel; ``profile`` converts the pixels back to that RGB profile
    and embeds it. Returns the bytes, the format name and what INFO says of the output.
    """
    name = OUTPUT_FORMATS[fmt]
    image = Image.fromarray(np.ascontiguousarray(pixels))
    notes: dict[str, object] = {"color_profile": "sRGB"}
    icc = None
    if profile is not None:
        image, icc = from_srgb(image, profile), profile.icc
        notes["color_profile"] = profile.description or "source"
    if grey:
        image = image.convert("L")
    if alpha is not None:
        plane = Image.fromarray(np.ascontiguousarray(alpha))
        if plane.size != image.size:
            plane = plane.resize(image.size, Image.Resampling.BICUBIC)
        if name == "JPEG":
            backdrop = Image.new(image.mode, image.size, FLATTEN_ONTO if image.mode == "RGB" else 255)
            image = Image.composite(image, backdrop, plane)
            notes["alpha"] = "flattened onto white (JPEG has no transparency)"
        else:
            image.putalpha(plane)
            notes["alpha"] = "kept"
    if name == "WEBP" and image.mode in ("L", "LA"):
        image = image.convert("RGBA" if image.mode == "LA" else "RGB")  # WebP has no grey mode
    if name == "PNG":  # written by lumaflow.runtime.png: 8-10x faster than Pillow's writer
        return write_png(np.asarray(image), exif=exif, icc=icc), name, notes
    save: dict[str, Any] = {"quality": int(quality)}
    if exif:
        save["exif"] = exif
    if icc:
        save["icc_profile"] = icc
    buffer = io.BytesIO()
    image.save(buffer, format=name, **save)
    return buffer.getvalue(), name, notes


def bicubic_upscale(pixels: np.ndarray, scale: int) -> np.ndarray:
    """uint8 HxWxC upscaled ``scale`` times by Pillow's bicubic: what the client would otherwise use, so what the
    quality check compares an upscale with and what an upscaling pipeline returns where it was not asked to work."""
    if scale == 1:
        return pixels
    size = (pixels.shape[1] * scale, pixels.shape[0] * scale)
    return np.asarray(Image.fromarray(np.ascontiguousarray(pixels)).resize(size, Image.Resampling.BICUBIC))
