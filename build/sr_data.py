"""Aligned (degraded, clean) training patches from real photos, degraded exactly as `eval` degrades.

Each photo is downscaled whole (Pillow bicubic /factor, as at evaluation) and patches are cut at
aligned positions, so patch borders never see a different degradation than the full image does.
Factor 1 is a restoration pair (the same photo twice); a per-patch ``degrade`` (JPEG, noise,
exposure) then makes the input, after augmentation, with the sampler's generator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from lumaflow.build.degrade import exposure
from lumaflow.build.eval import downscale
from lumaflow.build.photos import crop_to_multiple


@dataclass(frozen=True)
class Pair:
    hr: np.ndarray  # uint8 (f h, f w, 3): the target
    lr: np.ndarray  # uint8 (h, w, 3): the network's input (before any per-patch degradation)


# A per-patch degradation of the network input: uint8 HxWx3 in, same shape out.
Degrade = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def make_pairs(images: Iterable[np.ndarray], scales: Sequence[float], factor: int = 2) -> list[Pair]:
    """HR/LR pairs from each photo at each source scale.

    Source scales < 1 (Lanczos, antialiased) give HR content with more detail per pixel than the
    large, soft wallpapers, closer to the photos we serve and evaluate on, and wash out JPEG blocks.
    """
    pairs = []
    for image in images:
        h, w = image.shape[:2]
        for s in scales:
            hr = image
            if s != 1.0:
                size = (round(w * s), round(h * s))
                hr = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))
            hr = crop_to_multiple(hr, factor)
            pairs.append(Pair(hr=hr, lr=hr if factor == 1 else downscale(hr, factor)))
    return pairs


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
            target = pair.hr if stops == 0.0 else exposure(pair.hr, stops)
            pairs.append(Pair(hr=target, lr=target))
    return pairs


def _luma_std(hr: np.ndarray) -> float:
    return float((hr.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).std())


class PatchSampler:
    """Random aligned patches with flip/rot90 augmentation and down-weighted flat regions.

    Flat patches (sky, bokeh) carry no gradient for SR but dominate wallpapers, so a patch with
    luma std below `flat_std` is kept only with probability `flat_keep`.
    """

    def __init__(
        self,
        pairs: Sequence[Pair],
        lr_patch: int,
        rng: np.random.Generator,
        *,
        flat_std: float = 4.0,
        flat_keep: float = 0.2,
        factor: int = 2,
        degrade: Degrade | None = None,
    ) -> None:
        self.pairs = [p for p in pairs if min(p.lr.shape[:2]) >= lr_patch]
        if not self.pairs:
            raise ValueError(f"no image is at least {lr_patch} px (LR) on its short side")
        area = np.array([(p.lr.shape[0] - lr_patch + 1) * (p.lr.shape[1] - lr_patch + 1) for p in self.pairs])
        self.weights = area / area.sum()
        self.lr_patch = lr_patch
        self.rng = rng
        self.flat_std = flat_std
        self.flat_keep = flat_keep
        self.factor = factor
        self.degrade = degrade

    def _one(self) -> tuple[np.ndarray, np.ndarray]:
        p, f, rng = self.lr_patch, self.factor, self.rng
        while True:
            pair = self.pairs[rng.choice(len(self.pairs), p=self.weights)]
            y = int(rng.integers(0, pair.lr.shape[0] - p + 1))
            x = int(rng.integers(0, pair.lr.shape[1] - p + 1))
            hr = pair.hr[f * y : f * (y + p), f * x : f * (x + p)]
            if _luma_std(hr) >= self.flat_std or rng.random() < self.flat_keep:
                break
        lr = pair.lr[y : y + p, x : x + p]
        k, flip = int(rng.integers(0, 4)), bool(rng.integers(0, 2))
        lr, hr = np.rot90(lr, k), np.rot90(hr, k)
        if flip:
            lr, hr = lr[:, ::-1], hr[:, ::-1]
        if self.degrade is not None:
            lr = self.degrade(np.ascontiguousarray(lr), rng)
        return lr, hr

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(LR, HR) float NCHW in [0, 1]."""
        lrs, hrs = zip(*(self._one() for _ in range(n)), strict=True)
        return _to_tensor(lrs), _to_tensor(hrs)


def _to_tensor(images: Sequence[np.ndarray]) -> torch.Tensor:
    stacked = np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2))
    return torch.from_numpy(stacked).to(torch.float32).div_(255.0)
