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
from lumaflow.ensemble.contract import ANALYSIS_SCALES

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


def draw_quality_degradation(patch: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """What a photo (or a restorer's output) can suffer -- blur, resampling, haloes, noise, JPEG -- and its score."""
    if rng.random() < 0.15:
        return patch, 100.0
    out, impairments = patch, list[float]()
    if rng.random() < 0.4:
        sigma = float(rng.uniform(0.3, 4.5))
        out, impairments = degrade.gaussian_blur(out, sigma), [*impairments, blur_impairment(sigma)]
    if rng.random() < 0.15:  # bicubic down and up: about the blur of σ 0.45 x the factor
        factor = float(rng.uniform(1.5, 4.0))
        h, w = out.shape[:2]
        small = degrade.resize(out, max(8, round(w / factor)), max(8, round(h / factor)))
        out, impairments = degrade.resize(small, w, h), [*impairments, blur_impairment(0.45 * factor)]
    if rng.random() < 0.1:
        percent = int(rng.integers(150, 400))
        out = degrade.unsharp(out, radius=float(rng.uniform(1.0, 3.0)), percent=percent)
        impairments.append(10.0 + 20.0 * (percent - 150) / 250)
    if rng.random() < 0.45:
        sigma = float(rng.uniform(1.0, 50.0))
        out, impairments = degrade.gaussian_noise(out, sigma, rng), [*impairments, noise_impairment(sigma)]
    if rng.random() < 0.45:
        quality = int(rng.integers(5, 96))
        out, impairments = degrade.jpeg(out, quality), [*impairments, jpeg_impairment(quality)]
    return out, quality_target(impairments)


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
    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        patches, scores = zip(*(draw_quality_degradation(self.crop(), self.rng) for _ in range(n)), strict=True)
        return to_tensor(patches), torch.tensor(scores, dtype=torch.float32)[:, None] / 100.0
