"""The recipes of our own networks: what each trains on, how long, and how it is judged.

Held-out evaluation always runs on scikit-image's photos, which no recipe trains on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lumaflow.build import degrade
from lumaflow.build.arch.espcn import ESPCN
from lumaflow.build.arch.residual import ResidualRestorer
from lumaflow.build.eval import EvalReport, Suite, downscale, evaluate_restoration, evaluate_sr, upscale
from lumaflow.build.registry import ModelDescriptor
from lumaflow.build.sr_data import Pair, make_pairs
from lumaflow.build.training import Recipe

# --- evaluations -------------------------------------------------------------------------------------

DEJPEG_QUALITIES = (10, 20, 30, 50)
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


def evaluate_dejpeg(descriptor: ModelDescriptor) -> Suite:
    conditions = {f"q{q}": (lambda image, _seed, q=q: degrade.jpeg(image, q)) for q in DEJPEG_QUALITIES}
    return evaluate_restoration(descriptor, conditions, luma=True, what="Pillow JPEG 4:2:0")


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
# the wallpapers' mean" and doubled a night launch photo's brightness at 0 EV (rocket: 31.7 -> 12.5 dB).
# Targets spread over 1.5 EV make a plausibly exposed frame ambiguous, and L1 then leaves it alone.
SCENE_EXPOSURES = (-1.0, -0.5, 0.0, 0.5)


def scene_exposure_pairs(images: list[np.ndarray], scales: tuple[float, ...], factor: int = 1) -> list[Pair]:
    """Restoration pairs whose targets are each photo at each of `SCENE_EXPOSURES` (no noise)."""
    pairs = []
    for pair in make_pairs(images, scales, factor):
        for stops in SCENE_EXPOSURES:
            target = pair.hr if stops == 0.0 else degrade.exposure(pair.hr, stops)
            pairs.append(Pair(hr=target, lr=target))
    return pairs


# --- recipes ----------------------------------------------------------------------------------------

ESPCN_X2_HP = {"scale": 2, "features": 32, "mid_features": 24, "num_body": 3}
# Narrower than espcn_x2 (2.7 against 4.7 GFLOP per 320x240 frame) for 30 fps on 2 cores; LeakyReLU is a
# third faster than PReLU in ONNX Runtime.
CAMERA_X2_HP = {"scale": 2, "features": 24, "mid_features": 16, "num_body": 3, "leaky": True}
SR_X4_HP = {"scale": 4, "features": 64, "mid_features": 48, "num_body": 6}
DEJPEG_HP = {"features": 64, "num_blocks": 8}
CAMERA_X1_HP = {"features": 32, "num_blocks": 6, "global_context": True, "curve_steps": 4}

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            name="espcn_x2",
            make_model=lambda: ESPCN(**ESPCN_X2_HP),
            factor=2,
            degradation="Pillow BICUBIC /2",
            evaluate=evaluate_sr_only,
            steps=10000,
            batch_size=16,
            patch=96,
        ),
        Recipe(
            name="sr_x4",
            make_model=lambda: ESPCN(**SR_X4_HP),
            factor=4,
            degradation="Pillow BICUBIC /4",
            evaluate=evaluate_sr_only,
            steps=3000,
            batch_size=16,
            patch=128,
            lr=1.5e-3,
        ),
        Recipe(
            name="dejpeg",
            make_model=lambda: ResidualRestorer(**DEJPEG_HP),
            factor=1,
            degradation="Pillow JPEG 4:2:0 per patch, quality uniform in [10, 60] (blind)",
            evaluate=evaluate_dejpeg,
            steps=6000,
            batch_size=16,
            patch=64,
            lr=5e-4,
            degrade=degrade.random_jpeg,
            luma_weight=2.0,
        ),
        Recipe(
            name="camera_x2",
            make_model=lambda: ESPCN(**CAMERA_X2_HP),
            factor=2,
            degradation="Pillow BICUBIC /2; 2/3 of patches then get noise σ 0.5-4, half of those JPEG q 70-95",
            evaluate=evaluate_camera_x2,
            steps=5000,
            batch_size=16,
            patch=96,
            degrade=degrade.mild_camera,
        ),
        Recipe(
            name="camera_x1",
            make_model=lambda: ResidualRestorer(**CAMERA_X1_HP),
            factor=1,
            degradation="targets: each photo at -1, -0.5, 0, +0.5 EV (scene brightness); inputs: re-exposed -3..+1 EV"
            " in linear light with shot + read noise (30%: light noise only)",
            evaluate=evaluate_camera_x1,
            steps=2500,
            batch_size=8,
            patch=192,
            lr=1e-3,
            # Camera-frame sized sources (320x200 to 512x320): a 192 px patch's statistics are then
            # close to a whole frame's, which is what the curves see when served.
            scales=(0.125, 0.15, 0.2),
            degrade=degrade.random_exposure,
            make_pairs=scene_exposure_pairs,
        ),
    )
}


# --- refinement: trained on the outputs of the served SR stages ----------------------------------------

# The stages whose outputs the refinement learns to correct: (stage name, scale).
REFINE_SOURCES: tuple[tuple[str, int], ...] = (("waifu2x_x2", 2), ("srmd_x4", 4))


def _stage_model(stage_name: str) -> torch.nn.Module:
    """The torch model of a declared stage, from the same weights the served graph is built from."""
    from lumaflow.build.repository import Artifact, load_network
    from lumaflow.ensemble.stages import STAGES

    stage = STAGES[stage_name]
    assert stage.network is not None
    artifact = Artifact(stage, stage.network, Path("."))
    return load_network(stage.network, artifact.weights_path()).model


def _refine_pairs(images: list[np.ndarray], scales: tuple[float, ...], factor: int) -> list[Pair]:
    """(stage output, original) pairs: each photo at each scale through each source stage."""
    pairs = []
    for stage_name, scale in REFINE_SOURCES:
        model = _stage_model(stage_name)
        for pair in make_pairs(images, scales, scale):
            pairs.append(Pair(hr=pair.hr, lr=upscale(model, pair.lr)))
    return pairs


def evaluate_refine(descriptor: ModelDescriptor) -> Suite:
    conditions = {}
    for stage_name, scale in REFINE_SOURCES:
        model = _stage_model(stage_name)

        def through(image: np.ndarray, _seed: int, model: torch.nn.Module = model, scale: int = scale) -> np.ndarray:
            return upscale(model, downscale(image, scale))

        conditions[stage_name] = through
    return evaluate_restoration(
        descriptor, conditions, luma=True, what="the stage's output on a bicubic-downscaled photo", multiple=4
    )


REFINE_HP = {"features": 32, "num_blocks": 4}

RECIPES["refine"] = Recipe(
    name="refine",
    make_model=lambda: ResidualRestorer(**REFINE_HP),
    factor=1,
    degradation="outputs of "
    + ", ".join(f"{name} (x{scale})" for name, scale in REFINE_SOURCES)
    + " on Pillow-bicubic-downscaled photos",
    evaluate=evaluate_refine,
    steps=2000,
    batch_size=16,
    patch=64,
    lr=5e-4,
    make_pairs=_refine_pairs,
)
