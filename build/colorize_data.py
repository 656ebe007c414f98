"""The colouriser's training crops, loss and held-out evaluation.

Training: random crops of the wallpaper photos made grey (60%) or sepia-toned (40%, tone strength
0.6-1), the colour crop as target. The network sees only the luma of its input, so the two differ
only in brightness (a full sepia tone lifts luma by about 22%, and clips): mixing them teaches it
that a sepia print's brighter grey levels are the same scene. For the same reason every input is also
scaled by a random exposure gain (`EXPOSURE_GAIN`): a darker or brighter print is the same scene, and
without it the network read the wallpapers' brightness as a colour (a grey cat at its own exposure
came out blue). The loss is a squared error of the chroma planes (Cb, Cr) against half the photo's
chroma (`colorize_loss` says why): luma is copied from the input, so it carries no error to learn from.

Evaluation, on scikit-image's photos (never trained on): PSNR of the chroma planes (Cb and Cr of
BT.601, data range 255) and RGB PSNR against the original colour photo, for the network on the grey
and on the sepia version, beside the two plain baselines: the grey photo itself (neutral chroma) and
a plain sepia tint of the luma (a uniform warm chroma). Sepia inputs keep their own, brighter luma in
the network's output, which the RGB PSNR counts against them; the chroma PSNR does not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from lumaflow.build import degrade
from lumaflow.build.arch.colorize import chroma
from lumaflow.build.assess import Report, method_means
from lumaflow.build.assess_data import CropSampler, to_tensor
from lumaflow.build.degrade import grey, sepia  # the inputs: BT.601 luma, and the full sepia tone
from lumaflow.build.eval import rgb_psnr, upscale
from lumaflow.build.photos import eval_photos
from lumaflow.build.registry import ModelDescriptor

SEPIA_SHARE = 0.4
SEPIA_STRENGTH = (0.6, 1.0)
FLAT_KEEP = 0.5  # a flat crop (sky, a wall) still has a colour to learn, unlike for the restorers
EXPOSURE_GAIN = (-0.4, 0.4)  # natural log of the input's brightness gain: 0.67x to 1.49x, as prints vary


class ColorizeSampler(CropSampler):
    """(grey or sepia crop at a random exposure, colour crop), float NCHW in [0, 1]."""

    def __init__(self, images: list[np.ndarray], patch: int, rng: np.random.Generator) -> None:
        super().__init__(images, patch, rng, flat_keep=FLAT_KEEP)

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        targets = [self.crop() for _ in range(n)]
        inputs = [
            degrade.sepia(t, float(self.rng.uniform(*SEPIA_STRENGTH))) if self.rng.random() < SEPIA_SHARE else grey(t)
            for t in targets
        ]
        # Only the input's brightness changes: the target keeps the photo's own colours.
        gain = torch.from_numpy(np.exp(self.rng.uniform(*EXPOSURE_GAIN, size=(n, 1, 1, 1)))).float()
        return (to_tensor(inputs) * gain).clamp(0.0, 1.0), to_tensor(targets)


CHROMA_SHRINK = 0.5  # the network is taught half of each photo's chroma


def colorize_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the BT.601 chroma planes (Cb, Cr) against ``CHROMA_SHRINK`` times the photo's.

    A squared error learns the conditional mean, the estimate PSNR rewards (the L1 of the first run
    learnt one confident colour: 19.43 dB against grey's 20.86). But with 11 training photos that mean
    is itself a guess: the network learns their colours by heart and paints a held-out photo in their
    palettes, and a wrong colour costs more than none (Huber δ 0.1, practically this MSE: 18.63 dB).
    Shrinking an uncertain estimate towards zero is the standard cure (ridge, James-Stein): a
    prediction ``p`` scaled by ``s`` beats neutral grey whenever ``s < 2 E[c p] / E[p^2]``, so a half
    keeps a roughly right colour worth having while a wrong one costs a quarter of what it did.
    The factor is fixed a priori, not fitted to the held-out photos.
    """
    return F.mse_loss(chroma(output), CHROMA_SHRINK * chroma(target))


def chroma_psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of the BT.601 chroma planes (Cb and Cr together, data range 255) of two uint8 RGB images."""
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")

    def planes(rgb: np.ndarray) -> torch.Tensor:
        return chroma(torch.from_numpy(rgb.astype(np.float64)).permute(2, 0, 1)[None])

    mse = float(((planes(a) - planes(b)) ** 2).mean())
    return float("inf") if mse == 0 else 10.0 * float(np.log10(255.0**2 / mse))


def evaluate_colorize(descriptor: ModelDescriptor, photos: dict[str, np.ndarray] | None = None) -> Report:
    """Chroma and RGB PSNR per held-out photo (default: scikit-image's four) and their means: network (grey / sepia
    input), grey, sepia."""
    methods: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "model_from_grey": lambda photo: upscale(descriptor.model, grey(photo)),
        "model_from_sepia": lambda photo: upscale(descriptor.model, sepia(photo)),
        "grey": grey,
        "sepia": sepia,
    }
    figures: dict[str, Any] = {
        "metric": "PSNR dB against the colour photo: chroma (BT.601 Cb, Cr; range 255) and RGB",
        "photos": {},
    }
    totals: dict[str, list[tuple[float, float]]] = {name: [] for name in methods}
    for name, photo in (eval_photos() if photos is None else photos).items():
        figures["photos"][name] = {}
        for method, run in methods.items():
            out = run(photo)
            scores = (chroma_psnr(out, photo), rgb_psnr(out, photo))
            figures["photos"][name][method] = {"chroma_psnr": round(scores[0], 3), "rgb_psnr": round(scores[1], 3)}
            totals[method].append(scores)
    figures["mean"] = method_means(totals, ("chroma_psnr", "rgb_psnr"), (3, 3))
    text = [
        f"{method:17s} chroma {v['chroma_psnr']:.2f} dB, RGB {v['rgb_psnr']:.2f} dB"
        for method, v in figures["mean"].items()
    ]
    return Report(figures, text)
