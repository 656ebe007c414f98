"""Labelled crops for the assessors: real photo patches, degraded at random, with what was done to them.

The analysis network learns to read back the degradation (noise σ, JPEG quality, blur σ, exposure,
tone); the quality network learns a score computed from what was done (calibrated impairments,
below), which it must then give from the pixels alone. Degradations run in the order a camera or a scan applies
them: tone, blur (optics), exposure, noise (sensor), JPEG (storage). JPEG is applied to the patch
itself, so its 8x8 grid starts at the patch's corner, as it does on the grid-aligned crops the
server takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from lumaflow.build import degrade
from lumaflow.contract import ANALYSIS_SCALES
from lumaflow.runtime.crops import crops_at, grid_positions

# Tone classes (the analysis network's last three outputs are their logits).
COLOUR, GREY, SEPIA = 0, 1, 2
UNCOMPRESSED_QUALITY = 100.0  # the JPEG-quality label of a patch that was never JPEG-compressed


@dataclass(frozen=True)
class AnalysisDraw:
    """What one analysis sample had done to it (in served units)."""

    tone: int
    blur_sigma: float
    exposure_ev: float
    noise_sigma: float
    jpeg_quality: float  # UNCOMPRESSED_QUALITY when not compressed

    def target(self) -> list[float]:
        """Regression targets scaled to about [0, 1] (the graph multiplies back), then the tone class."""
        values = (self.noise_sigma, self.jpeg_quality, self.blur_sigma, self.exposure_ev)
        return [v / s for v, s in zip(values, ANALYSIS_SCALES, strict=True)] + [float(self.tone)]


def draw_analysis(rng: np.random.Generator) -> AnalysisDraw:
    """Independent degradations, each present with its own probability, so combinations occur."""
    tone = COLOUR
    u = rng.random()
    if u < 0.12:
        tone = GREY
    elif u < 0.22:
        tone = SEPIA
    return AnalysisDraw(
        tone=tone,
        blur_sigma=float(rng.uniform(0.3, 3.0)) if rng.random() < 0.3 else 0.0,
        exposure_ev=float(rng.uniform(-3.0, 1.5)) if rng.random() < 0.4 else 0.0,
        noise_sigma=float(rng.uniform(0.0, 50.0)) if rng.random() < 0.6 else 0.0,
        jpeg_quality=float(rng.integers(8, 96)) if rng.random() < 0.5 else UNCOMPRESSED_QUALITY,
    )


def apply_analysis(patch: np.ndarray, draw: AnalysisDraw, rng: np.random.Generator) -> np.ndarray:
    out = patch
    if draw.tone == GREY:
        out = degrade.grey(out)
    elif draw.tone == SEPIA:
        out = degrade.sepia(out, float(rng.uniform(0.6, 1.0)))
    out = degrade.gaussian_blur(out, draw.blur_sigma)
    if draw.exposure_ev:
        out = degrade.exposure(out, draw.exposure_ev)
    if draw.noise_sigma > 0:
        if draw.tone == COLOUR:
            out = degrade.gaussian_noise(out, draw.noise_sigma, rng)
        else:  # film grain / a monochrome sensor: the same noise in every channel
            mono = rng.normal(0.0, draw.noise_sigma, (*out.shape[:2], 1)).astype(np.float32)
            out = np.clip(np.round(out.astype(np.float32) + mono), 0, 255).astype(np.uint8)
    if draw.jpeg_quality < UNCOMPRESSED_QUALITY:
        out = degrade.jpeg(out, int(draw.jpeg_quality))
    return out


# Impairment curves of the quality score, in points off 100 (saturating: a photo can only get so
# much worse from one cause). They put the causes on one scale, e.g. noise σ 15, JPEG q 30 and
# blur σ 1.5 px each cost about 30 points, so a score means the same whatever the photo shows; a
# full-reference target such as SSIM is content-dependent instead: the same noise costs a flat
# photo far more SSIM than a busy one, so one score would mean different things on different photos.
def noise_impairment(sigma: float) -> float:
    return 60.0 * (1.0 - np.exp(-sigma / 20.0))


def jpeg_impairment(quality: float) -> float:
    return 60.0 * (1.0 - (quality / 100.0) ** 0.6)


def blur_impairment(sigma: float) -> float:
    # Slow to saturate: σ 2.5 and σ 4 must still differ by 10 points (a steeper curve put them 7 apart).
    return 70.0 * (1.0 - np.exp(-sigma / 2.5))


def quality_target(impairments: Sequence[float]) -> float:
    """100 x the product of (1 - each impairment / 100): 0 to 100, 100 = nothing wrong."""
    return float(100.0 * np.prod([1.0 - i / 100.0 for i in impairments])) if impairments else 100.0


@dataclass(frozen=True)
class QualityDraw:
    """What one quality sample suffers, drawn before it is applied: a photo's crops can then share it."""

    blur_sigma: float = 0.0
    resample_factor: float = 0.0  # bicubic down and up by this factor
    unsharp: tuple[float, int] | None = None  # radius, percent
    noise_sigma: float = 0.0
    jpeg_quality: int = 0  # 0: not compressed

    def apply(self, patch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = degrade.gaussian_blur(patch, self.blur_sigma) if self.blur_sigma else patch
        if self.resample_factor:
            h, w = out.shape[:2]
            small = degrade.resize(
                out, max(8, round(w / self.resample_factor)), max(8, round(h / self.resample_factor))
            )
            out = degrade.resize(small, w, h)
        if self.unsharp is not None:
            out = degrade.unsharp(out, radius=self.unsharp[0], percent=self.unsharp[1])
        if self.noise_sigma:
            out = degrade.gaussian_noise(out, self.noise_sigma, rng)
        return degrade.jpeg(out, self.jpeg_quality) if self.jpeg_quality else out

    def score(self) -> float:
        impairments = []
        if self.blur_sigma:
            impairments.append(blur_impairment(self.blur_sigma))
        if self.resample_factor:  # about the blur of σ 0.45 x the factor
            impairments.append(blur_impairment(0.45 * self.resample_factor))
        if self.unsharp is not None:
            impairments.append(10.0 + 20.0 * (self.unsharp[1] - 150) / 250)
        if self.noise_sigma:
            impairments.append(noise_impairment(self.noise_sigma))
        if self.jpeg_quality:
            impairments.append(jpeg_impairment(self.jpeg_quality))
        return quality_target(impairments)


def draw_quality(rng: np.random.Generator) -> QualityDraw:
    """What a photo (or a restorer's output) can suffer -- blur, resampling, haloes, noise, JPEG -- each at random."""
    if rng.random() < 0.15:
        return QualityDraw()
    blur = float(rng.uniform(0.3, 4.5)) if rng.random() < 0.4 else 0.0
    resample = float(rng.uniform(1.5, 4.0)) if rng.random() < 0.15 else 0.0
    unsharp = (float(rng.uniform(1.0, 3.0)), int(rng.integers(150, 400))) if rng.random() < 0.1 else None
    noise = float(rng.uniform(1.0, 50.0)) if rng.random() < 0.45 else 0.0
    jpeg = int(rng.integers(5, 96)) if rng.random() < 0.45 else 0
    return QualityDraw(blur, resample, unsharp, noise, jpeg)


class CropSampler:
    """Random patches of real photos (area-weighted, rot90/flip augmented), before degradation.

    Flat patches (sky, bokeh) dominate the wallpapers but say nothing about blur, and a clean flat
    patch looks like a heavily blurred one: taught that flat means pristine, the first quality network
    gave blur σ 1.6, 2.5 and 4 the same score, about 56 (measured on the benchmark photos). As for
    SR, a patch with luma std below ``flat_std`` is kept only with probability ``flat_keep``.
    """

    def __init__(
        self,
        images: Sequence[np.ndarray],
        patch: int,
        rng: np.random.Generator,
        *,
        flat_std: float = 4.0,
        flat_keep: float = 0.2,
    ) -> None:
        self.images = [image for image in images if min(image.shape[:2]) >= patch]
        if not self.images:
            raise ValueError(f"no photo is at least {patch} px on its short side")
        area = np.array([(i.shape[0] - patch + 1) * (i.shape[1] - patch + 1) for i in self.images], dtype=np.float64)
        self.weights = area / area.sum()
        self.patch = patch
        self.rng = rng
        self.flat_std = flat_std
        self.flat_keep = flat_keep

    def crop(self) -> np.ndarray:
        rng, p = self.rng, self.patch
        while True:
            image = self.images[rng.choice(len(self.images), p=self.weights)]
            y, x = int(rng.integers(0, image.shape[0] - p + 1)), int(rng.integers(0, image.shape[1] - p + 1))
            patch = image[y : y + p, x : x + p]
            if float((patch.astype(np.float32) @ degrade.LUMA_WEIGHTS).std()) >= self.flat_std:
                break
            if rng.random() < self.flat_keep:
                break
        patch = np.rot90(patch, int(rng.integers(0, 4)))
        if rng.integers(0, 2):
            patch = patch[:, ::-1]
        return np.ascontiguousarray(patch)


def to_tensor(patches: Sequence[np.ndarray]) -> torch.Tensor:
    stacked = np.ascontiguousarray(np.stack(patches).transpose(0, 3, 1, 2))
    return torch.from_numpy(stacked).to(torch.float32).div_(255.0)


class AnalysisSampler(CropSampler):
    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        patches, targets = [], []
        for _ in range(n):
            draw = draw_analysis(self.rng)
            patches.append(apply_analysis(self.crop(), draw, self.rng))
            targets.append(draw.target())
        return to_tensor(patches), torch.tensor(targets, dtype=torch.float32)


class QualitySampler(CropSampler):
    """Single crops, each degraded its own way: the first phase of the quality score's training."""

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        draws = [draw_quality(self.rng) for _ in range(n)]
        patches = [draw.apply(self.crop(), self.rng) for draw in draws]
        return to_tensor(patches), torch.tensor([d.score() for d in draws], dtype=torch.float32)[:, None] / 100.0


class PhotoQualitySampler:
    """A photo's worth of crops with one degradation and one score: the quality score's second phase.

    Each sample is a random window of a photo (``MIN_WINDOW`` px to all of it), cut into the grid of
    crops the server takes (`lumaflow.runtime.crops.grid_positions`), every crop degraded alike. Seeing
    all of them at once, the network can tell a soft scene from a blurred photo: some crops of a
    soft scene are sharp, none of a blurred one are, which no single 64 px crop can show.
    """

    MIN_WINDOW = 256
    PER_SIDE = 5  # 25 crops, as the benchmark evaluation takes

    def __init__(self, images: Sequence[np.ndarray], patch: int, rng: np.random.Generator) -> None:
        self.images = [image for image in images if min(image.shape[:2]) >= self.MIN_WINDOW]
        if not self.images:
            raise ValueError(f"no photo is at least {self.MIN_WINDOW} px on its short side")
        area = np.array([image.shape[0] * image.shape[1] for image in self.images], dtype=np.float64)
        self.weights = area / area.sum()
        self.patch = patch
        self.rng = rng

    def photo(self) -> tuple[list[np.ndarray], float]:
        rng = self.rng
        image = self.images[rng.choice(len(self.images), p=self.weights)]
        height, width = image.shape[:2]
        h, w = int(rng.integers(self.MIN_WINDOW, height + 1)), int(rng.integers(self.MIN_WINDOW, width + 1))
        y, x = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
        window = image[y : y + h, x : x + w]
        crops = crops_at(window, grid_positions(h, w, self.PER_SIDE, self.patch), self.patch)
        crops = np.rot90(crops, int(rng.integers(0, 4)), axes=(1, 2))
        if rng.integers(0, 2):
            crops = crops[:, :, ::-1]
        draw = draw_quality(rng)
        return [draw.apply(np.ascontiguousarray(crop), rng) for crop in crops], draw.score()

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """float [n, K, 3, s, s] crops (K = 25) and [n, 1] scores / 100."""
        photos, scores = zip(*(self.photo() for _ in range(n)), strict=True)
        crops = torch.stack([to_tensor(crops) for crops in photos])
        return crops, torch.tensor(scores, dtype=torch.float32)[:, None] / 100.0


# --- the losses -------------------------------------------------------------------------------------------


def analysis_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 on noise σ and JPEG quality, 2 x smooth L1 (β 0.5) on blur and exposure, 0.1 x cross-entropy on tone.

    Blur and exposure are often ambiguous in a crop (a flat sky shows no blur, a dark wall may be
    lit normally); an L1 then learns the conditional median, which is "none" for most crops (the
    first run predicted 0 EV for a photo at -2.5 EV). Quadratic near zero, smooth L1 learns the
    mean instead, which the photo-level average of the crops then sharpens.
    """
    measures = len(ANALYSIS_SCALES)
    exact = (output[:, :2] - target[:, :2]).abs().mean()
    ambiguous = torch.nn.functional.smooth_l1_loss(output[:, 2:measures], target[:, 2:measures], beta=0.5)
    tone = torch.nn.functional.cross_entropy(output[:, measures:], target[:, measures].long())
    return exact + 2.0 * ambiguous + 0.1 * tone


def quality_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.l1_loss(output, target)
