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


def encoded_region(region: ImageLike) -> bytes:
    """A REGION (where the result applies) as encoded bytes; the server reads it as grey (or alpha), the
    photo's upright size, above 127 = here.

    A bool HxW array (True = here) becomes a black-and-white PNG; a uint8 HxW array goes as a grey PNG of
    its values, read as a file of the same pixels would be (above 127 = here), and one of only 0 and 1 is
    refused (ValueError: it would mean nowhere); files, paths and PIL images go as ``encoded`` sends images.
    """
    if isinstance(region, np.ndarray) and region.ndim == 2 and region.dtype == np.bool_:
        return encoded(np.where(region, 255, 0).astype(np.uint8))
    if isinstance(region, np.ndarray) and region.dtype == np.uint8 and region.size and int(region.max()) == 1:
        raise ValueError("a uint8 region is grey, above 127 = here: give 0/255, or a bool array for 0/1")
    return encoded(region)
