"""A texture-aware noise level: Liu, Tanaka and Okutomi's weak-texture patch estimator.

X. Liu, M. Tanaka and M. Okutomi, "Single-image noise level estimation for blind denoising", IEEE Transactions
on Image Processing 22(12), 2013. The least eigenvalue of the covariance of a photo's 7 × 7 patches is the noise's
variance when the patches hold no texture; a busy photo's patches do, so the estimate is taken over the patches
whose gradient energy is under what noise of the current estimate could make (a gamma quantile at confidence
1 - 1e-6), and re-estimated three times. These are the paper's published defaults. Where the learned estimator
reads a clean, busy photo's texture as noise, this reads the flat parts of it: it was tried as a second opinion for
`lumaflow.runtime.noise_map`'s rule (`lumaflow.build.noise_map_second_opinion`) and not adopted, since after a
camera's demosaicking and JPEG the noise it reads is as low as a clean photo's (docs/quality.md).

Numpy only, on the same grid crops as the analysis network, in one of the ``VIEWS``: the pixels, their box means
over 2 × 2 or 4 × 4 (correlated noise is whiter at a coarser scale), or the two opponent chroma channels of the 2 × 2
means (camera noise after demosaicking is colour noise; texture mostly is not).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

PATCH = 7
CONFIDENCE = 1.0 - 1e-6
ITERATIONS = 3
_GRADIENT = np.array([-0.5, 0.0, 0.5])


def _gradient_operator(patch: int) -> np.ndarray:
    """The matrix taking a patch (raster order) to its horizontal then vertical central differences."""
    rows = []
    for y in range(patch):
        for x in range(patch - 2):
            row = np.zeros((patch, patch))
            row[y, x : x + 3] = _GRADIENT
            rows.append(row.reshape(-1))
    for y in range(patch - 2):
        for x in range(patch):
            row = np.zeros((patch, patch))
            row[y : y + 3, x] = _GRADIENT
            rows.append(row.reshape(-1))
    return np.array(rows)


@cache
def texture_threshold(patch: int = PATCH, confidence: float = CONFIDENCE) -> float:
    """τ₀: the gradient energy a patch of unit-variance white noise stays under with ``confidence`` (a gamma
    quantile whose shape and scale come from the gradient operator's rank and trace, as in the paper)."""
    from scipy.stats import gamma  # only here: the threshold is computed once a process

    operator = _gradient_operator(patch)
    gram = operator.T @ operator
    rank = int(np.linalg.matrix_rank(gram))
    return float(gamma.ppf(confidence, rank / 2.0, scale=2.0 * np.trace(gram) / rank))


def _patches_and_energy(channel: np.ndarray, patch: int) -> tuple[np.ndarray, np.ndarray]:
    """Every ``patch`` × ``patch`` window of one crop's channel as a row, and its gradient energy."""
    windows = sliding_window_view(channel, (patch, patch)).reshape(-1, patch * patch)
    horizontal = (channel[:, 2:] - channel[:, :-2]) * 0.5
    vertical = (channel[2:, :] - channel[:-2, :]) * 0.5
    energy_h = sliding_window_view(horizontal**2, (patch, patch - 2)).sum(axis=(2, 3))
    energy_v = sliding_window_view(vertical**2, (patch - 2, patch)).sum(axis=(2, 3))
    return windows, (energy_h + energy_v).reshape(-1)


def _least_eigenvalue(patches: np.ndarray) -> float:
    centred = patches - patches.mean(axis=0)
    covariance = centred.T @ centred / (len(patches) - 1)
    return float(max(np.linalg.eigvalsh(covariance)[0], 0.0))


def channel_level(patches: np.ndarray, energy: np.ndarray, iterations: int = ITERATIONS) -> float:
    """σ of one channel from its patches (rows) and their gradient energies."""
    threshold = texture_threshold(math.isqrt(patches.shape[1]))
    if len(patches) < patches.shape[1]:
        return 0.0
    variance = _least_eigenvalue(patches)
    for _ in range(1, iterations):
        weak = energy < variance * threshold
        if weak.sum() < patches.shape[1]:
            break
        patches, energy = patches[weak], energy[weak]
        variance = _least_eigenvalue(patches)
    return float(np.sqrt(variance))


def weak_texture_level(crops: np.ndarray, patch: int = PATCH) -> float:
    """The noise σ (0-255 levels) of crops [K, h, w, C]: each channel's patches pooled over the crops, then the
    channels' mean."""
    pixels = np.asarray(crops, dtype=np.float64)
    levels = []
    for channel in range(pixels.shape[-1]):
        parts = [_patches_and_energy(crop[..., channel], patch) for crop in pixels]
        levels.append(channel_level(np.concatenate([p for p, _ in parts]), np.concatenate([e for _, e in parts])))
    return float(np.mean(levels))


def box_means(crops: np.ndarray, scale: int) -> np.ndarray:
    """Crops [K, h, w, C] as the means of their ``scale`` × ``scale`` blocks (h and w multiples of ``scale``)."""
    k, h, w, c = crops.shape
    return np.asarray(crops, dtype=np.float64).reshape(k, h // scale, scale, w // scale, scale, c).mean(axis=(2, 4))


def opponent_chroma(pixels: np.ndarray) -> np.ndarray:
    """The two opponent chroma channels of RGB [..., 3], orthonormal so white noise keeps its σ in each."""
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return np.stack([(r - g) / np.sqrt(2.0), (r + g - 2.0 * b) / np.sqrt(6.0)], axis=-1)


VIEWS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "pixels": lambda crops: np.asarray(crops, dtype=np.float64),
    "means2": lambda crops: box_means(crops, 2),
    "means4": lambda crops: box_means(crops, 4),
    "chroma2": lambda crops: opponent_chroma(box_means(crops, 2)),
}


def view_level(crops: np.ndarray, view: str) -> float:
    """The weak-texture σ of uint8 crops [K, h, w, 3] in one of ``VIEWS``."""
    return weak_texture_level(VIEWS[view](crops))
