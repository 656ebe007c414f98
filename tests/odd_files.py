"""Real photos written as the odd files users send: 16-bit, alpha, grey, CMYK, P3, rotated, HEIC, GPS.

Each maker returns the encoded bytes and what a correct decoder must see (the sRGB, upright pixels),
so a test can compare instead of trusting the decoder under test.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image, ImageCms

# Display P3's primaries adapted to the ICC D50 white (Bradford), as Apple's "Display P3" profile has them.
P3_COLORANTS = ((0.515102, 0.241196, -0.001053), (0.291965, 0.692229, 0.041885), (0.157153, 0.066575, 0.784078))
D50 = (0.9642, 1.0, 0.8249)
ORIENTATION = 0x0112
GPS_IFD = 0x8825


def _s15f16(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(values: tuple[float, float, float]) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15f16(v) for v in values)


def _srgb_curve(entries: int = 1024) -> bytes:
    x = np.linspace(0.0, 1.0, entries)
    y = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    table = np.round(y * 65535).astype(">u2").tobytes()
    return b"curv\0\0\0\0" + struct.pack(">I", entries) + table


def _text_description(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\0"
    return b"desc\0\0\0\0" + struct.pack(">I", len(ascii_text)) + ascii_text + b"\0" * 8 + b"\0\0\0" + b"\0" * 67


def display_p3_icc() -> bytes:
    """An ICC v2 matrix/TRC profile of Display P3 (P3 primaries, D65 white, the sRGB curve)."""
    curve = _srgb_curve()
    tags = [
        (b"desc", _text_description("Display P3 (Lumaflow test)")),
        (b"cprt", b"text\0\0\0\0" + b"Public domain\0"),
        (b"wtpt", _xyz(D50)),
        (b"rXYZ", _xyz(P3_COLORANTS[0])),
        (b"gXYZ", _xyz(P3_COLORANTS[1])),
        (b"bXYZ", _xyz(P3_COLORANTS[2])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        padded = data + b"\0" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += padded
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"lcms"
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2026, 11, 26, 0, 0, 0)
        + b"acsp"
        + b"\0" * 24  # platform, flags, manufacturer, model, attributes
        + struct.pack(">I", 0)  # perceptual intent
        + b"".join(_s15f16(v) for v in D50)
        + b"\0" * 4  # creator
        + b"\0" * 44  # profile ID and reserved
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png16_rgb(pixels: np.ndarray) -> bytes:
    """A 16-bit-per-channel RGB PNG of 8-bit ``pixels`` scaled exactly (v * 257), written by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    height, width = pixels.shape[:2]
    wide = (pixels.astype(np.uint32) * 257).astype(">u2")
    raw = b"".join(b"\0" + wide[row].tobytes() for row in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def png16_grey(pixels: np.ndarray) -> tuple[bytes, np.ndarray]:
    """A 16-bit grey PNG of the photo's luma, and the 8-bit luma it stands for."""
    luma = np.asarray(Image.fromarray(pixels).convert("L"), dtype=np.uint8)
    wide = luma.astype(np.uint16) * 257
    return _save(Image.fromarray(wide), "PNG"), np.repeat(luma[..., None], 3, axis=2)


def alpha_png(pixels: np.ndarray) -> tuple[bytes, np.ndarray]:
    """An RGBA PNG: a left-to-right alpha ramp, fully transparent on the left edge. Returns the alpha."""
    height, width = pixels.shape[:2]
    alpha = np.tile(np.linspace(0, 255, width).round().astype(np.uint8), (height, 1))
    return _save(Image.fromarray(np.dstack([pixels, alpha])), "PNG"), alpha


def grey_jpeg(pixels: np.ndarray) -> bytes:
    return _save(Image.fromarray(pixels).convert("L"), "JPEG", quality=95)


def cmyk_jpeg(pixels: np.ndarray) -> bytes:
    return _save(Image.fromarray(pixels).convert("CMYK"), "JPEG", quality=95)


def p3_png(pixels: np.ndarray) -> tuple[bytes, np.ndarray]:
    """The sRGB photo re-encoded in Display P3 numbers with the profile embedded; and those numbers."""
    icc = display_p3_icc()
    p3 = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    converted = ImageCms.profileToProfile(
        Image.fromarray(pixels), ImageCms.createProfile("sRGB"), p3, renderingIntent=ImageCms.Intent.PERCEPTUAL
    )
    assert converted is not None
    return _save(converted, "PNG", icc_profile=icc), np.asarray(converted)


def rotated_jpeg(pixels: np.ndarray) -> tuple[bytes, np.ndarray]:
    """A JPEG stored sideways with EXIF orientation 6 (a phone held upright); the upright view."""
    stored = np.ascontiguousarray(np.rot90(pixels, 1))  # what the sensor wrote
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # the viewer rotates 90 degrees clockwise
    return _save(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes()), pixels


def gps_jpeg(pixels: np.ndarray) -> bytes:
    """A JPEG whose EXIF carries a camera model and a GPS position."""
    exif = Image.Exif()
    exif[0x010F] = "Lumaflow Test Camera"
    exif[GPS_IFD] = {1: "N", 2: (52.0, 22.0, 1.5), 3: "E", 4: (4.0, 53.0, 0.0)}
    return _save(Image.fromarray(pixels), "JPEG", quality=95, exif=exif.tobytes())


def heic(pixels: np.ndarray) -> bytes:
    """A HEIC file (HEVC intra) written by pillow-heif, as iPhones save photos."""
    from pillow_heif import register_heif_opener

    register_heif_opener()
    return _save(Image.fromarray(pixels), "HEIF", quality=92)


def exif_of(data: bytes) -> Image.Exif:
    with Image.open(io.BytesIO(data)) as image:
        return image.getexif()
