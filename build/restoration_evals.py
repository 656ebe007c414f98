"""The held-out conditions and evaluations of the restoration recipes: camera frames, JPEG, exposure, low light.

Every condition is fixed per photo (seeded), and held-out evaluation runs on scikit-image's photos, which no
recipe trains on. ``lumaflow eval`` (build/benchmark_tasks.py) degrades its photos with the same conditions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lumaflow.build import degrade
from lumaflow.build.assess import Report, method_means
from lumaflow.build.baselines import autocontrast, best_gamma
from lumaflow.build.eval import EvalReport, Suite, evaluate_restoration, evaluate_sr, rgb_psnr, upscale
from lumaflow.build.photos import eval_photos
from lumaflow.build.registry import ModelDescriptor

CAMERA_LR_NOISE = 3.0
CAMERA_LR_QUALITY = 80


def camera_lr(lr: np.ndarray, seed: int) -> np.ndarray:
    """The held-out camera-frame degradation: mild noise, then JPEG q80 (fixed seed per photo)."""
    noisy = degrade.gaussian_noise(lr, CAMERA_LR_NOISE, np.random.default_rng(1000 + seed))
    return degrade.jpeg(noisy, CAMERA_LR_QUALITY)


def evaluate_camera_x2(descriptor: ModelDescriptor) -> Suite:
    return Suite(
        {
            "clean": evaluate_sr(descriptor),
            "camera": evaluate_sr(descriptor, camera_lr, f", noise σ{CAMERA_LR_NOISE:g}, JPEG q{CAMERA_LR_QUALITY}"),
        }
    )


def evaluate_sr_only(descriptor: ModelDescriptor) -> EvalReport:
    return evaluate_sr(descriptor)


# Held-out exposure conditions: (EV, read noise), fixed seeds per photo.
EXPOSURES: dict[str, tuple[float, float]] = {
    "ev-2.5": (-2.5, 0.008),
    "ev-1.5": (-1.5, 0.005),
    "ev+0.7": (0.7, 0.003),
    "ev0": (0.0, 0.003),
}


def exposed(image: np.ndarray, seed: int, stops: float, noise: float) -> np.ndarray:
    return degrade.exposure(image, stops, read_noise=noise, rng=np.random.default_rng(2000 + seed))


def evaluate_camera_x1(descriptor: ModelDescriptor) -> Suite:
    conditions = {
        name: (lambda image, seed, s=stops, n=noise: exposed(image, seed, s, n))
        for name, (stops, noise) in EXPOSURES.items()
    }
    return evaluate_restoration(descriptor, conditions, luma=False, what="re-exposed in linear light + sensor noise")


# Target exposures of the camera x1's training photos. A dark scene (night, a dark room) must stay
# dark: with only well-exposed wallpapers as targets, the network learned "brighten anything below


# --- low light ------------------------------------------------------------------------------------------

# Held-out low-light conditions: how each photo is darkened (fixed seeds per photo).
LOW_LIGHT: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "ev-1.5": lambda image, seed: exposed(image, seed, -1.5, 0.005),
    "ev-2.5": lambda image, seed: exposed(image, seed, -2.5, 0.008),
    "ev-3.5": lambda image, seed: exposed(image, seed, -3.5, 0.010),
    "gamma2.5": lambda image, seed: degrade.gaussian_noise(
        degrade.gamma_darken(image, 2.5), 2.0, np.random.default_rng(3000 + seed)
    ),
}


def evaluate_low_light(descriptor: ModelDescriptor) -> Report:
    """RGB PSNR / SSIM against the un-darkened photo: the model, its input, autocontrast and the oracle gamma."""
    from skimage.metrics import structural_similarity

    photos = eval_photos()
    methods: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
        "model": lambda dark, _clean: upscale(descriptor.model, dark),
        "input": lambda dark, _clean: dark,
        "autocontrast": lambda dark, _clean: autocontrast(dark),
        "best_gamma": best_gamma,
    }
    figures: dict[str, Any] = {"photos": list(photos), "metric": "RGB PSNR dB / SSIM against the un-darkened photo"}
    text = []
    for condition, darken in LOW_LIGHT.items():
        scores: dict[str, list[tuple[float, float]]] = {name: [] for name in methods}
        for index, clean in enumerate(photos.values()):
            dark = darken(clean, index)
            for name, method in methods.items():
                out = method(dark, clean)
                ssim = structural_similarity(clean, out, data_range=255, channel_axis=-1)
                scores[name].append((rgb_psnr(out, clean), float(ssim)))
        figures[condition] = method_means(scores, ("psnr", "ssim"), (3, 4))
        text.append(
            f"[{condition}] "
            + "  ".join(f"{name} {v['psnr']:.2f} dB / {v['ssim']:.3f}" for name, v in figures[condition].items())
        )
    return Report(figures, text)
