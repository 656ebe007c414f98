"""The classical methods our networks must beat, one function each (uint8 HxWx3 in and out)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps


def autocontrast(image: np.ndarray) -> np.ndarray:
    """Pillow's autocontrast with a 1% cutoff at each end: the one-click fix for a dark photo."""
    return np.asarray(ImageOps.autocontrast(Image.fromarray(image), cutoff=1))


def best_gamma(degraded: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """The single gamma curve that brings `degraded` closest to `clean` (an oracle: it sees the answer)."""
    x = degraded.astype(np.float64) / 255.0
    best, best_mse = degraded, float("inf")
    for gamma in np.exp(np.linspace(np.log(0.2), np.log(3.0), 61)):
        candidate = np.round(255.0 * np.power(x, gamma)).astype(np.uint8)
        mse = float(np.mean((candidate.astype(np.float64) - clean) ** 2))
        if mse < best_mse:
            best, best_mse = candidate, mse
    return best


def opencv_inpaint(image: np.ndarray, mask: np.ndarray, method: str, radius: int = 5) -> np.ndarray:
    """OpenCV's classical inpainting, ``method`` "telea" (fast marching) or "ns" (Navier-Stokes)."""
    import cv2

    flags = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}[method]
    return np.asarray(cv2.inpaint(np.ascontiguousarray(image), (mask > 0).astype(np.uint8), radius, flags))
