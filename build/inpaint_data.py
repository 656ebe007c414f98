"""Free-form hole masks and the inpainter's training and evaluation on them.

Masks are what a user paints over an object: a few thick brush strokes (polylines with round
joints) and blobs. Training draws them per patch; evaluation draws them per photo from fixed seeds
and scores only the hole (PSNR, SSIM averaged over the hole's pixels) against OpenCV's Telea and
Navier-Stokes inpainting, on the held-out photos.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from lumaflow.build.assess import Report, method_means
from lumaflow.build.assess_data import CropSampler, to_tensor
from lumaflow.build.baselines import opencv_inpaint
from lumaflow.build.photos import eval_photos
from lumaflow.build.registry import ModelDescriptor
from lumaflow.runtime.mask import navier_stokes_fill


def free_form_mask(
    height: int, width: int, rng: np.random.Generator, *, strokes: tuple[int, int] = (1, 4), brush: tuple[float, float]
) -> np.ndarray:
    """uint8 HxW, 1 in the hole: ``strokes`` polylines of 2-5 segments, brush width in ``brush`` (pixels)."""
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    side = min(height, width)
    for _ in range(int(rng.integers(strokes[0], strokes[1] + 1))):
        thickness = int(rng.uniform(*brush))
        x, y = float(rng.uniform(0, width)), float(rng.uniform(0, height))
        points = [(x, y)]
        for _ in range(int(rng.integers(2, 6))):
            angle, length = float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(0.1, 0.35) * side)
            x = float(np.clip(x + length * np.cos(angle), 0, width - 1))
            y = float(np.clip(y + length * np.sin(angle), 0, height - 1))
            points.append((x, y))
        draw.line(points, fill=1, width=thickness, joint="curve")
        for px, py in points:  # round caps
            r = thickness / 2
            draw.ellipse((px - r, py - r, px + r, py + r), fill=1)
    return np.asarray(canvas, dtype=np.uint8)


TRAIN_BRUSH = (4.0, 24.0)


class InpaintSampler(CropSampler):
    """((filled patch, mask), patch): free-form masks of 1-4 strokes, brush 4-24 px, over clean patches whose
    hole is filled by Navier-Stokes as the served stage's tiler fills it (from the patch alone: the rest is unseen).
    """

    def batch(self, n: int) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        patches = [self.crop() for _ in range(n)]
        masks = [free_form_mask(self.patch, self.patch, self.rng, brush=TRAIN_BRUSH) for _ in range(n)]
        holed = [patch * (1 - mask[..., None]) for patch, mask in zip(patches, masks, strict=True)]
        filled = [navier_stokes_fill(image, mask) for image, mask in zip(holed, masks, strict=True)]
        mask = torch.from_numpy(np.stack(masks)[:, None].astype(np.float32))
        return (to_tensor(filled), mask), to_tensor(patches)


def inpaint(model: torch.nn.Module, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 and HxW mask -> uint8 HxWx3: the Navier-Stokes fill, then the float model (rounded as served)."""
    with torch.inference_mode():
        x = to_tensor([navier_stokes_fill(image * (1 - mask[..., None]), mask)])
        m = torch.from_numpy(mask[None, None].astype(np.float32))
        out = model(x, m)[0].clamp(0, 1).mul(255).round().to(torch.uint8)
    return out.permute(1, 2, 0).numpy()


def hole_scores(out: np.ndarray, clean: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(PSNR dB, mean SSIM) over the hole's pixels only (SSIM map of 7 px windows, all channels)."""
    from skimage.metrics import structural_similarity

    hole = mask.astype(bool)
    mse = float(np.mean((out[hole].astype(np.float64) - clean[hole].astype(np.float64)) ** 2))
    psnr = float("inf") if mse == 0 else 10.0 * float(np.log10(255.0**2 / mse))
    _, ssim_map = structural_similarity(clean, out, data_range=255, channel_axis=-1, full=True)
    return psnr, float(ssim_map[hole].mean())


EVAL_BRUSH = (10.0, 24.0)


def eval_mask(photo: np.ndarray, index: int) -> np.ndarray:
    """The fixed held-out mask of photo ``index``: 3-5 strokes of a 10-24 px brush."""
    rng = np.random.default_rng(7000 + index)
    return free_form_mask(photo.shape[0], photo.shape[1], rng, strokes=(3, 5), brush=EVAL_BRUSH)


def evaluate_inpaint(descriptor: ModelDescriptor, photos: dict[str, np.ndarray] | None = None) -> Report:
    """Inside the hole, on `photos` (default: scikit-image's four, validation photos), against OpenCV's fills."""
    methods = {
        "model": lambda image, mask: inpaint(descriptor.model, image, mask),
        "telea": lambda image, mask: opencv_inpaint(image, mask, "telea"),
        "navier_stokes": lambda image, mask: opencv_inpaint(image, mask, "ns"),
    }
    figures: dict[str, Any] = {"metric": "PSNR dB / SSIM inside the hole", "brush_px": list(EVAL_BRUSH), "photos": {}}
    totals: dict[str, list[tuple[float, float]]] = {name: [] for name in methods}
    for index, (name, clean) in enumerate((eval_photos() if photos is None else photos).items()):
        mask = eval_mask(clean, index)
        holed = clean * (1 - mask[..., None])
        figures["photos"][name] = {"hole_fraction": round(float(mask.mean()), 4)}
        for method, run in methods.items():
            psnr, ssim = hole_scores(run(holed, mask), clean, mask)
            figures["photos"][name][method] = {"psnr": round(psnr, 3), "ssim": round(ssim, 4)}
            totals[method].append((psnr, ssim))
    figures["mean"] = method_means(totals, ("psnr", "ssim"), (3, 4))
    text = [
        f"{method:14s} {v['psnr']:.2f} dB / SSIM {v['ssim']:.4f} in the hole" for method, v in figures["mean"].items()
    ]
    return Report(figures, text)


SSIM_WINDOW = 7  # scikit-image's default window, the one the held-out SSIM is measured with
SSIM_C1, SSIM_C2 = 0.01**2, 0.03**2


def ssim_map(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-pixel SSIM of two float NCHW images in [0, 1], uniform 7x7 windows as scikit-image computes it."""
    pool = functools.partial(F.avg_pool2d, kernel_size=SSIM_WINDOW, stride=1)
    n = SSIM_WINDOW * SSIM_WINDOW
    covariance = n / (n - 1)  # scikit-image's sample covariance
    mu_a, mu_b = pool(a), pool(b)
    var_a = covariance * (pool(a * a) - mu_a * mu_a)
    var_b = covariance * (pool(b * b) - mu_b * mu_b)
    cov = covariance * (pool(a * b) - mu_a * mu_b)
    return ((2 * mu_a * mu_b + SSIM_C1) * (2 * cov + SSIM_C2)) / (
        (mu_a * mu_a + mu_b * mu_b + SSIM_C1) * (var_a + var_b + SSIM_C2)
    )


def inpaint_loss(output: torch.Tensor, target: torch.Tensor, ssim_weight: float = 0.5) -> torch.Tensor:
    """L1 plus ``ssim_weight`` x (1 - SSIM): known pixels are copied, so both come from the hole alone."""
    return F.l1_loss(output, target) + ssim_weight * (1.0 - ssim_map(output, target)).mean()
