"""x2 super-resolution quality on held-out photos, as Y-PSNR against Pillow's bicubic.

Y-PSNR (BT.601 luma, border cropped) is the metric SR papers report, so numbers here are
comparable with published ESPCN results; the baseline is the bicubic a client would otherwise use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from lumaflow.build.photos import eval_photos
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


def downscale_x2(hr: np.ndarray) -> np.ndarray:
    """The degradation we train and evaluate on: Pillow bicubic (antialiased) to half size."""
    h, w = hr.shape[:2]
    return np.asarray(Image.fromarray(hr).resize((w // 2, h // 2), _BICUBIC))


def bicubic_x2(lr: np.ndarray) -> np.ndarray:
    """The baseline: Pillow bicubic to double size."""
    h, w = lr.shape[:2]
    return np.asarray(Image.fromarray(lr).resize((w * 2, h * 2), _BICUBIC))


def upscale(model: torch.nn.Module, lr: np.ndarray) -> np.ndarray:
    """Run a float model through the served uint8 wrapper on one HxWx3 image."""
    with torch.inference_mode():
        out = PixelsGraph(model).eval()(torch.from_numpy(np.array(lr))[None])
    return out[0].numpy()


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

    @property
    def mean_model_db(self) -> float:
        return float(np.mean([p.model_db for p in self.photos]))

    @property
    def mean_bicubic_db(self) -> float:
        return float(np.mean([p.bicubic_db for p in self.photos]))

    @property
    def mean_gain_db(self) -> float:
        return self.mean_model_db - self.mean_bicubic_db

    def as_dict(self) -> dict[str, object]:
        return {
            "metric": "Y-PSNR dB (BT.601, border 2), HR -> Pillow bicubic /2 -> x2",
            "photos": {p.name: {"model": round(p.model_db, 3), "bicubic": round(p.bicubic_db, 3)} for p in self.photos},
            "mean_model": round(self.mean_model_db, 3),
            "mean_bicubic": round(self.mean_bicubic_db, 3),
            "mean_gain": round(self.mean_gain_db, 3),
        }


def evaluate_sr_x2(descriptor: ModelDescriptor, border: int = 2) -> EvalReport:
    """Y-PSNR of `descriptor`'s model and of bicubic on the scikit-image photos (never trained on)."""
    if descriptor.scale != 2:
        raise ValueError(f"evaluate_sr_x2 needs a x2 model, got x{descriptor.scale}")
    scores = []
    for name, hr in eval_photos().items():
        lr = downscale_x2(hr)
        scores.append(
            PhotoScore(
                name=name,
                model_db=y_psnr(upscale(descriptor.model, lr), hr, border),
                bicubic_db=y_psnr(bicubic_x2(lr), hr, border),
            )
        )
    return EvalReport(tuple(scores))
