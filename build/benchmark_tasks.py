"""The tasks of ``lumaflow eval`` (build/evaluate.py): which pipelines each compares, how each photo is degraded,
and how a restored photo is scored against the original.

x2, x4, camera_x2 and dejpeg are scored in Y-PSNR and SSIM on BT.601 luma with ``border = scale`` pixels left out
(as ``lumaflow.build.eval``, the SR papers' convention); denoise, camera_x1 and lowlight in RGB PSNR and SSIM (as
published denoising results).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from lumaflow.build.baselines import autocontrast, best_gamma
from lumaflow.build.denoise import (
    add_gaussian_noise,
    bm3d_available,
    bm3d_rgb,
    center_crop,
    gaussian_blur,
    nl_means,
    nl_means_oracle,
)
from lumaflow.build.eval import rgb_to_y, y_psnr
from lumaflow.build.jpeg_baselines import deblock_reapplied
from lumaflow.build.photo_sets import PhotoSet, load_set
from lumaflow.build.photos import crop_to_multiple
from lumaflow.build.restoration_evals import EXPOSURES, LOW_LIGHT, camera_lr, exposed
from lumaflow.ensemble.pipelines import PIPELINES, Pipeline

SIGMAS: tuple[int, ...] = (15, 25, 50)
QUALITIES: tuple[int, ...] = (10, 20, 30)
_BICUBIC = Image.Resampling.BICUBIC
DENOISE_BASELINES: tuple[str, ...] = ("noisy", "blur", "nlm", "nlm_oracle", *(("bm3d",) if bm3d_available() else ()))
DEGRADATIONS = {
    "x2": "Pillow bicubic (antialiased) to 1/2 size, sent as PNG; baseline: Pillow bicubic back up",
    "x4": "Pillow bicubic (antialiased) to 1/4 size, sent as PNG; baseline: Pillow bicubic back up",
    "denoise": "+ N(0, σ²) per value, rounded and clipped to uint8, seed 1000 × photo index + σ, sent as PNG; "
    "baselines: Gaussian blur radius 1, scikit-image NLM as its example runs it (h 0.6σ, sigma σ, patch 5, distance 6,"
    " fast), NLM with the best h of 0.4-1.2σ per photo (an oracle), colour BM3D told σ (when `bm3d` is installed)",
    "dejpeg": "Pillow JPEG at the quality (4:2:0), sent as that JPEG; baselines: the decoded JPEG, and its luma"
    " deblocked by re-application of JPEG with the file's own table (Nosratinia 2001, 64 shifts)",
    "camera_x2": "as x2 (clean), or x2 then N(0, 3²) and JPEG q80 (camera), sent as PNG; baseline: bicubic up",
    "lowlight": "re-exposed by the EV in linear light with shot + read noise, or darkened by a gamma of 2.5 with"
    " noise σ 2, sent as PNG; baselines: the input, Pillow autocontrast (1% cutoff), the best single gamma (an oracle)",
    "camera_x1": "re-exposed by the EV in linear light with shot + read noise, sent as PNG; baselines: the input, "
    "Pillow autocontrast (1% cutoff), the best single gamma in [0.2, 3] chosen against the original (an oracle)",
}


def encode_png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def encode_jpeg(pixels: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=int(quality))
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def resize(pixels: np.ndarray, width: int, height: int, resample: Image.Resampling = _BICUBIC) -> np.ndarray:
    return np.asarray(Image.fromarray(pixels).resize((width, height), resample))


def y_ssim(a: np.ndarray, b: np.ndarray, border: int) -> float:
    """SSIM of the BT.601 luma of two uint8 RGB images (data range 255), `border` px left out."""
    ya, yb = rgb_to_y(a), rgb_to_y(b)
    if border:
        ya, yb = ya[border:-border, border:-border], yb[border:-border, border:-border]
    return float(structural_similarity(ya, yb, data_range=255))


def score(task: Task, restored: np.ndarray, clean: np.ndarray) -> tuple[float, float]:
    """(PSNR dB, SSIM) of `restored` against `clean` in the task's metric."""
    if restored.shape != clean.shape:
        raise ValueError(f"shape mismatch: {restored.shape} vs {clean.shape}")
    if task.metric == "rgb":
        return (
            float(peak_signal_noise_ratio(clean, restored, data_range=255)),
            float(structural_similarity(clean, restored, data_range=255, channel_axis=-1)),
        )
    border = task.scale
    return y_psnr(restored, clean, border), y_ssim(restored, clean, border)


# --- tasks ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ours:
    """A pipeline as the benchmark runs it: its label in the tables, and whether it is told σ.

    ``steps`` replaces the pipeline's neural stages (offline only): a comparison with a stage that
    no pipeline serves (the shipped network a pipeline replaced, a camera stage, a refinement).
    """

    label: str
    pipeline: str
    tell_sigma: bool = False
    steps: tuple[str, ...] = ()

    def resolve(self) -> Pipeline:
        base = PIPELINES[self.pipeline]
        if not self.steps:
            return base
        return replace(base, name=self.label, steps=self.steps)


@dataclass(frozen=True)
class Task:
    name: str
    scale: int
    metric: str  # "y": Y-PSNR / Y-SSIM, border = scale; "rgb": RGB PSNR / SSIM
    baselines: tuple[str, ...]
    reference: str  # the classical baseline the gain is over
    ours: tuple[Ours, ...]

    @property
    def metric_text(self) -> str:
        if self.metric == "rgb":
            return "RGB PSNR dB / SSIM (data range 255)"
        return f"Y-PSNR dB / SSIM on BT.601 Y (data range 255), border {self.scale} px"

    @property
    def methods(self) -> tuple[str, ...]:
        return (*self.baselines, *(ours.label for ours in self.ours))


TASKS: dict[str, Task] = {
    "x2": Task(
        "x2",
        2,
        "y",
        ("bicubic",),
        "bicubic",
        (
            Ours("upscale_x2", "upscale_x2"),
            Ours("upscale_x2 + refine", "upscale_x2", steps=("span_x2", "refine")),
            Ours("upscale_x2_fast", "upscale_x2_fast"),
            Ours("waifu2x_x2 (upscale_x2 until issue 25)", "upscale_x2", steps=("waifu2x_x2",)),
        ),
    ),
    "x4": Task(
        "x4",
        4,
        "y",
        ("bicubic",),
        "bicubic",
        (
            Ours("upscale_x4", "upscale_x4"),
            Ours("upscale_x4 + refine", "upscale_x4", steps=("span_x4", "refine")),
            Ours("upscale_x4_fast", "upscale_x4_fast"),
            Ours("upscale_x4_realistic", "upscale_x4_realistic"),
            Ours("srmd_x4 (upscale_x4 until issue 25)", "upscale_x4", steps=("srmd_x4",)),
        ),
    ),
    "denoise": Task(
        "denoise",
        1,
        "rgb",
        DENOISE_BASELINES,
        "nlm",
        (Ours("denoise", "denoise", tell_sigma=True), Ours("denoise_estimated", "denoise")),
    ),
    "dejpeg": Task(
        "dejpeg",
        1,
        "y",
        ("jpeg", "reapplied"),
        "jpeg",
        (Ours("dejpeg", "dejpeg"), Ours("dejpeg_waifu2x", "dejpeg_waifu2x")),
    ),
    "camera_x2": Task(
        "camera_x2",
        2,
        "y",
        ("bicubic",),
        "bicubic",
        (
            Ours("camera_x2", "upscale_x2_fast", steps=("camera_sr_x2",)),
            Ours("camera_x2_int8", "upscale_x2_fast", steps=("camera_sr_x2_int8",)),
            Ours("upscale_x2_fast", "upscale_x2_fast"),
        ),
    ),
    "lowlight": Task(
        "lowlight",
        1,
        "rgb",
        ("input", "autocontrast", "best_gamma"),
        "best_gamma",
        (Ours("lowlight", "lowlight"),),
    ),
    "camera_x1": Task(
        "camera_x1",
        1,
        "rgb",
        ("input", "autocontrast", "best_gamma"),
        "input",
        (Ours("camera_x1", "denoise", steps=("camera_restore_x1",)),),
    ),
}


@dataclass(frozen=True)
class Level:
    task: str
    key: str  # report key and strip name part: x2, x4, sigma25, q20
    value: float  # scale, σ or JPEG quality


def levels_for(task: str, sigmas: Sequence[int], qualities: Sequence[int]) -> list[Level]:
    if task in ("x2", "x4"):
        return [Level(task, task, TASKS[task].scale)]
    if task == "camera_x2":
        return [Level(task, "clean", 2), Level(task, "camera", 2)]
    if task == "lowlight":
        return [Level(task, key, 0.0) for key in LOW_LIGHT]
    if task == "camera_x1":
        return [Level(task, key, stops) for key, (stops, _noise) in EXPOSURES.items()]
    if task == "denoise":
        return [Level(task, f"sigma{sigma:g}", float(sigma)) for sigma in sigmas]
    return [Level(task, f"q{quality}", float(quality)) for quality in qualities]


@dataclass(frozen=True)
class Degraded:
    """One degraded photo: the file the pipelines get, its pixels, and the classical baselines' outputs."""

    data: bytes
    pixels: np.ndarray
    baselines: dict[str, np.ndarray]


def degrade(level: Level, clean: np.ndarray, seed: int, *, costly_baselines: bool = True) -> Degraded:
    """The photo degraded as `level` says (seeded), and the classical baselines' outputs; ``costly_baselines`` False
    leaves out the NLM oracle and BM3D (seconds a photo, and only comparisons)."""
    height, width = clean.shape[:2]
    if level.task in ("x2", "x4", "camera_x2"):
        factor = int(level.value)
        small = resize(clean, width // factor, height // factor)
        if level.key == "camera":
            small = camera_lr(small, seed)
        return Degraded(encode_png(small), small, {"bicubic": resize(small, width, height)})
    if level.task in ("lowlight", "camera_x1"):
        dark = (
            LOW_LIGHT[level.key](clean, seed)
            if level.task == "lowlight"
            else exposed(clean, seed, *EXPOSURES[level.key])
        )
        baselines = {"input": dark, "autocontrast": autocontrast(dark), "best_gamma": best_gamma(dark, clean)}
        return Degraded(encode_png(dark), dark, baselines)
    if level.task == "denoise":
        noisy = add_gaussian_noise(clean, level.value, seed)
        baselines = {
            "noisy": noisy,
            "blur": gaussian_blur(noisy),
            "nlm": nl_means(noisy, level.value),
        }
        if costly_baselines:
            baselines["nlm_oracle"] = nl_means_oracle(noisy, level.value, clean)
        if costly_baselines and "bm3d" in DENOISE_BASELINES:
            baselines["bm3d"] = bm3d_rgb(noisy, level.value)
        return Degraded(encode_png(noisy), noisy, baselines)
    data = encode_jpeg(clean, int(level.value))
    decoded = decode_png(data)  # Pillow decodes JPEG too
    return Degraded(data, decoded, {"jpeg": decoded, "reapplied": deblock_reapplied(data)})


def prepare_photos(photo_set: PhotoSet, crop: int, limit: int | None = None) -> dict[str, np.ndarray]:
    """A photo set's photos (`lumaflow.build.photo_sets`, or its first `limit`), centre-cropped to `crop` (0: whole)
    and to a multiple of 4."""
    photos = load_set(photo_set, limit)
    return {
        name: np.ascontiguousarray(crop_to_multiple(center_crop(image, crop) if crop else image, 4))
        for name, image in photos.items()
    }
