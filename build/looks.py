"""The looks of the ``stylize`` pipeline: training samples, the network on one photo, and the looks' commands.

Each look is graded the way a colourist would (``lumaflow.build.gradings``): first an *image-adaptive*
correction read from the whole photo (a partial grey-world white balance, levels from its own percentiles,
exposure pulled toward a target mean), then the look's fixed colour work (tone curves, split toning, channel
mixing, saturation, hue work). The adaptive part is what a single fixed LUT cannot do and what the looks
network's thumbnail CNN is for; ``lumaflow.build.looks_eval`` measures both against the grading.

    python -m lumaflow.build.looks sheet      # docs/templates: README, a contact sheet per category; thumbnails
    python -m lumaflow.build.looks distinct   # the least ΔE between every pair of looks on a photo set
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from lumaflow.build.arch.lut import LookNet
from lumaflow.build.assess_data import CropSampler, to_tensor
from lumaflow.build.gradings import grade
from lumaflow.build.gradings.blocks import gains, saturation
from lumaflow.ensemble.looks import TEMPLATE_NAMES

# --- training ----------------------------------------------------------------------------------------

VARY_KEEP = 0.2  # the share of training crops left as the photo has them


class LooksSampler(CropSampler):
    """((crop, template, strength 1), the crop graded by that look): each crop is graded as a whole photo.

    Most crops are first given a random exposure, colour cast and colourfulness (``vary``): the training photos
    are eleven well-exposed wallpapers, and the adaptive part of a look (what the network predicts per photo)
    only shows on photos whose levels, cast and exposure differ.
    """

    def __init__(self, images: Sequence[np.ndarray], patch: int, rng: np.random.Generator) -> None:
        super().__init__(images, patch, rng, flat_keep=1.0)  # colour, not texture: flat crops are fine

    def vary(self, crop: np.ndarray) -> np.ndarray:
        if self.rng.random() < VARY_KEEP:
            return crop
        x = crop.astype(np.float32) / 255.0
        x = np.clip(gains(x, np.exp(self.rng.normal(0.0, 0.12, 3))), 0.0, 1.0)
        x = x ** np.float32(np.exp(self.rng.uniform(-0.5, 0.5)))
        x = saturation(x, np.float32(np.exp(self.rng.uniform(-0.6, 0.4))))
        return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)

    def batch(self, n: int) -> tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
        crops = [self.vary(np.ascontiguousarray(self.crop())) for _ in range(n)]
        templates = self.rng.integers(0, len(TEMPLATE_NAMES), n)
        targets = [grade(crop, TEMPLATE_NAMES[t]) for crop, t in zip(crops, templates, strict=True)]
        inputs = (to_tensor(crops), torch.from_numpy(templates.astype(np.int64)), torch.ones(n))
        return inputs, to_tensor(targets)


def looks_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.l1_loss(output, target)


# --- the network on one photo ------------------------------------------------------------------------


def stylize(model: LookNet, image: np.ndarray, template: int, strength: float = 1.0) -> np.ndarray:
    """uint8 HxWx3 through the network, rounded to uint8 as the served graph does."""
    with torch.inference_mode():
        x = to_tensor([image])
        y = model(x, torch.tensor([template]), torch.tensor([strength]))
    return _pixels(y)


def fixed_lut(model: LookNet, image: np.ndarray, template: int) -> np.ndarray:
    """The look as the network's LUT with the training set's average weights: one fixed LUT per look."""
    with torch.inference_mode():
        y = model.fixed(to_tensor([image]), torch.tensor([template]))
    return _pixels(y)


def _pixels(y: torch.Tensor) -> np.ndarray:
    return y[0].clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def delta_e(a: np.ndarray, b: np.ndarray) -> float:
    """Mean CIEDE2000 between two uint8 RGB photos (sRGB, D65)."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    return float(deltaE_ciede2000(rgb2lab(a), rgb2lab(b)).mean())


def looks_parity_samples(templates: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(PIXELS, TEMPLATE, STRENGTH) batches of two sizes, each mixing looks and strengths (0 and 1 included)."""
    rng = np.random.default_rng(0)
    samples = []
    for looks, strengths, (height, width) in (
        ([0, templates // 2, templates - 1], [1.0, 0.5, 0.0], (40, 56)),
        ([3 % templates, 8 % templates], [0.25, 1.0], (64, 48)),
    ):
        y, x = np.mgrid[0:height, 0:width]
        base = np.stack([x / width, y / height, (x + y) / (width + height)], axis=-1) * 240
        texture = rng.normal(0, 12, size=(len(looks), height, width, 3))
        pixels = np.clip(base[None] + texture, 0, 255).astype(np.uint8)
        template = np.array(looks, dtype=np.int32).reshape(-1, 1)
        samples.append((pixels, template, np.array(strengths, dtype=np.float32).reshape(-1, 1)))
    return samples


def resize_long_side(image: np.ndarray, side: int) -> np.ndarray:
    """``image`` with ``side`` px on its long side (Lanczos)."""
    from PIL import Image as PILImage

    height, width = image.shape[:2]
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(PILImage.fromarray(image).resize(size, PILImage.Resampling.LANCZOS))


def load_looknet(weights: Path) -> LookNet:
    """The looks network in ``weights`` (a TypeError if the file holds another architecture)."""
    from lumaflow.build.registry import load_file

    model = load_file(str(weights)).model
    if not isinstance(model, LookNet):
        raise TypeError(f"{weights} is not a LookNet")
    return model


def main(argv: list[str] | None = None) -> int:
    from lumaflow.build import WEIGHTS_DIR
    from lumaflow.build.looks_sheet import DOCS, THUMBNAILS, write_sheets

    p = argparse.ArgumentParser(prog="python -m lumaflow.build.looks", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sheet = sub.add_parser("sheet", help="contact sheets per category, thumbnails and docs/templates/README.md")
    sheet.add_argument("--weights", type=Path, default=WEIGHTS_DIR / "looks.pt")
    sheet.add_argument("--photo", default="astronaut", help="a validation photo (lumaflow.build.photo_sets)")
    sheet.add_argument("--docs", type=Path, default=DOCS)
    sheet.add_argument("--thumbnails", type=Path, default=THUMBNAILS)
    distinct = sub.add_parser("distinct", help="the least ΔE between every pair of looks on a photo set")
    distinct.add_argument("--weights", type=Path, default=WEIGHTS_DIR / "looks.pt")
    distinct.add_argument("--set", dest="photo_set", choices=("train", "validation", "test"), default="validation")
    distinct.add_argument("--out", type=Path, help="write the figures as JSON here")
    distinct.add_argument("--gradings", action="store_true", help="the target gradings instead of the network")
    args = p.parse_args(argv)
    if args.command == "sheet":
        write_sheets(args.weights, args.photo, args.docs, args.thumbnails)
        return 0
    return _distinct(None if args.gradings else args.weights, args.photo_set, args.out)


def _distinct(weights: Path | None, photo_set: str, out: Path | None) -> int:
    import json

    from lumaflow.build.looks_eval import pairwise_distances
    from lumaflow.build.photo_sets import load_set

    model = None if weights is None else load_looknet(weights)
    figures = {"set": photo_set, **pairwise_distances(model, load_set(photo_set))}  # type: ignore[arg-type]
    for entry in figures["closest"][:10]:
        print(f"{entry['delta_e']:6.2f}  {' / '.join(entry['looks'])}  ({entry['photo']})")
    below = figures["pairs_below"]
    print(f"{below['count']} of {figures['pairs']} pairs differ by less than {below['delta_e']} ΔE on some photo")
    if out is not None:
        out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
