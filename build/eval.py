"""x2 super-resolution quality on held-out photos, as Y-PSNR against Pillow's bicubic.

Y-PSNR (BT.601 luma, border cropped) is the metric SR papers report, so numbers here are
comparable with published ESPCN results; the baseline is the bicubic a client would otherwise use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from lumaflow.build.photos import crop_to_multiple, eval_photos
from lumaflow.build.pixels import PixelsGraph
from lumaflow.build.registry import ModelDescriptor

_BICUBIC = Image.Resampling.BICUBIC


def rgb_to_y(rgb: np.ndarray) -> np.ndarray:
    """BT.601 studio-swing luma (MATLAB rgb2ycbcr's Y, 16..235) of uint8 RGB, as float64."""
    rgb = rgb.astype(np.float64)
    return 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0


def y_psnr(a: np.ndarray, b: np.ndarray, border: int) -> float:
    """PSNR in dB of the luma of two uint8 HxWx3 RGB images, ignoring `border` px on each side."""
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    ya, yb = rgb_to_y(a), rgb_to_y(b)
    if border:
        ya, yb = ya[border:-border, border:-border], yb[border:-border, border:-border]
    mse = float(np.mean((ya - yb) ** 2))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(255.0**2 / mse))


def downscale(hr: np.ndarray, factor: int) -> np.ndarray:
    """The degradation we train and evaluate SR on: Pillow bicubic (antialiased) to 1/`factor` size."""
    h, w = hr.shape[:2]
    return np.asarray(Image.fromarray(hr).resize((w // factor, h // factor), _BICUBIC))


def bicubic_up(lr: np.ndarray, factor: int) -> np.ndarray:
    """The baseline: Pillow bicubic to `factor` x the size."""
    h, w = lr.shape[:2]
    return np.asarray(Image.fromarray(lr).resize((w * factor, h * factor), _BICUBIC))


def downscale_x2(hr: np.ndarray) -> np.ndarray:
    return downscale(hr, 2)


def bicubic_x2(lr: np.ndarray) -> np.ndarray:
    return bicubic_up(lr, 2)


def run_served(graph: torch.nn.Module, image: np.ndarray, *side: torch.Tensor) -> np.ndarray:
    """One uint8 HxWx3 image (and its side inputs, batch 1) through a served uint8 wrapper, in eval mode."""
    with torch.inference_mode():
        out = graph.eval()(torch.from_numpy(np.array(image))[None], *side)
    return out[0].numpy()


def upscale(model: torch.nn.Module, lr: np.ndarray) -> np.ndarray:
    """Run a float model through the served uint8 wrapper on one HxWx3 image."""
    return run_served(PixelsGraph(model), lr)


@dataclass(frozen=True)
class PhotoScore:
    name: str
    model_db: float
    bicubic_db: float

    @property
    def gain_db(self) -> float:
        return self.model_db - self.bicubic_db


@dataclass(frozen=True)
class EvalReport:
    photos: tuple[PhotoScore, ...]
    metric: str = "Y-PSNR dB (BT.601, border 2), HR -> Pillow bicubic /2 -> x2"
    baseline: str = "bicubic"

    @property
    def mean_model_db(self) -> float:
        return float(np.mean([p.model_db for p in self.photos]))

    @property
    def mean_bicubic_db(self) -> float:
        return float(np.mean([p.bicubic_db for p in self.photos]))

    @property
    def mean_gain_db(self) -> float:
        return self.mean_model_db - self.mean_bicubic_db

    def lines(self) -> list[str]:
        rows = [(p.name, p.model_db, p.bicubic_db) for p in self.photos]
        rows.append(("mean", self.mean_model_db, self.mean_bicubic_db))
        return [f"{n:10s} model {m:6.2f} dB  {self.baseline} {b:6.2f} dB  ({m - b:+.2f})" for n, m, b in rows]

    def as_dict(self) -> dict[str, object]:
        return {
            "metric": self.metric,
            "photos": {
                p.name: {"model": round(p.model_db, 3), self.baseline: round(p.bicubic_db, 3)} for p in self.photos
            },
            "mean_model": round(self.mean_model_db, 3),
            f"mean_{self.baseline}": round(self.mean_bicubic_db, 3),
            "mean_gain": round(self.mean_gain_db, 3),
        }


def evaluate_sr(
    descriptor: ModelDescriptor, lr_degrade: Callable[[np.ndarray, int], np.ndarray] | None = None, what: str = ""
) -> EvalReport:
    """Y-PSNR of `descriptor`'s model and of bicubic on the scikit-image photos (never trained on).

    The border cropped is the scale, as SR papers do. ``lr_degrade(lr, seed)`` further degrades the
    low-resolution input (noise, JPEG) before both methods see it.
    """
    factor = descriptor.scale
    scores = []
    for index, (name, photo) in enumerate(eval_photos().items()):
        hr = crop_to_multiple(photo, factor)
        lr = downscale(hr, factor)
        if lr_degrade is not None:
            lr = lr_degrade(lr, index)
        scores.append(
            PhotoScore(
                name=name,
                model_db=y_psnr(upscale(descriptor.model, lr), hr, factor),
                bicubic_db=y_psnr(bicubic_up(lr, factor), hr, factor),
            )
        )
    metric = f"Y-PSNR dB (BT.601, border {factor}), HR -> Pillow bicubic /{factor}{what} -> x{factor}"
    return EvalReport(tuple(scores), metric=metric)


def evaluate_sr_x2(descriptor: ModelDescriptor) -> EvalReport:
    if descriptor.scale != 2:
        raise ValueError(f"evaluate_sr_x2 needs a x2 model, got x{descriptor.scale}")
    return evaluate_sr(descriptor)


def rgb_psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB over all three channels of two uint8 HxWx3 images (data range 255)."""
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(255.0**2 / mse))


@dataclass(frozen=True)
class Suite:
    """One `EvalReport` per degradation condition (e.g. JPEG q10, q20, q30)."""

    reports: Mapping[str, EvalReport]

    def as_dict(self) -> dict[str, object]:
        return {condition: report.as_dict() for condition, report in self.reports.items()}

    def lines(self) -> list[str]:
        return [f"[{condition}] {line}" for condition, r in self.reports.items() for line in r.lines()]


def evaluate_restoration(
    descriptor: ModelDescriptor,
    conditions: Mapping[str, Callable[[np.ndarray, int], np.ndarray]],
    *,
    luma: bool,
    what: str,
    multiple: int = 2,
) -> Suite:
    """The model against its own input (the baseline) on the held-out photos, per condition.

    ``conditions[name](photo, seed)`` degrades a photo deterministically; scores are Y-PSNR
    (border 1) when ``luma`` else RGB PSNR against the original.
    """
    photos = {name: crop_to_multiple(photo, multiple) for name, photo in eval_photos().items()}
    reports = {}
    for condition, degrade in conditions.items():
        scores = []
        for index, (name, clean) in enumerate(photos.items()):
            degraded = degrade(clean, index)
            restored = upscale(descriptor.model, degraded)
            model_db, input_db = (
                (y_psnr(restored, clean, 1), y_psnr(degraded, clean, 1))
                if luma
                else (rgb_psnr(restored, clean), rgb_psnr(degraded, clean))
            )
            scores.append(PhotoScore(name=name, model_db=model_db, bicubic_db=input_db))
        metric = f"{'Y-PSNR dB (BT.601, border 1)' if luma else 'RGB PSNR dB'}, {what} ({condition})"
        reports[condition] = EvalReport(tuple(scores), metric=metric, baseline="input")
    return Suite(reports)
