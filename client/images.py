"""What ``enhance`` accepts as an image, turned into the encoded bytes a photo pipeline takes."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ImageLike = bytes | bytearray | str | os.PathLike[str] | Image.Image | np.ndarray


def encoded(image: ImageLike) -> bytes:
    """Encoded bytes for ``image``: file bytes and paths as they are (no re-encoding, EXIF and ICC kept),
    PIL images and uint8 HWC arrays as lossless PNG."""
    if isinstance(image, (bytes, bytearray)):
        return bytes(image)
    if isinstance(image, (str, os.PathLike)):
        return Path(image).read_bytes()
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim not in (2, 3):
            raise TypeError(f"an image array must be uint8 HxW or HxWxC, got {image.dtype} {image.shape}")
        image = Image.fromarray(image)
    if isinstance(image, Image.Image):
        buffer = io.BytesIO()
        save: dict[str, Any] = {"format": "PNG", "compress_level": 1}
        if "icc_profile" in image.info:
            save["icc_profile"] = image.info["icc_profile"]
        image.save(buffer, **save)
        return buffer.getvalue()
    raise TypeError(f"cannot send {type(image).__name__} as an image: give bytes, a path, a PIL image or an array")


def encoded_mask(mask: ImageLike) -> bytes:
    """An inpainting mask as PNG bytes: a bool or uint8 HxW array (True / non-zero = remove) becomes a
    black-and-white PNG; files, paths and PIL images go as ``encoded`` sends images."""
    if isinstance(mask, np.ndarray) and mask.ndim == 2 and mask.dtype in (np.bool_, np.uint8):
        return encoded(np.where(mask.astype(bool), 255, 0).astype(np.uint8))
    return encoded(mask)
