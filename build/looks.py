"""The looks of the ``stylize`` pipeline: their target gradings, training samples, evaluation and contact sheet.

Each look is graded the way a colourist would: first an *image-adaptive* correction read from the
whole photo (levels from its own percentiles, a partial grey-world white balance, exposure pulled
toward a target mean), then the look's fixed colour work (tone curves, split toning, channel
mixing, saturation). The adaptive part is what a single fixed LUT cannot do and what the looks
network's thumbnail CNN is for; the evaluation measures both against the grading.

    python -m lumaflow.build.looks sheet    # docs/templates/contact_sheet.png and ensemble/thumbnails/*.jpg
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lumaflow.build.arch.lut import LookNet
from lumaflow.build.assess import Report
from lumaflow.build.assess_data import CropSampler, to_tensor
from lumaflow.build.photos import eval_photos
from lumaflow.build.registry import ModelDescriptor
from lumaflow.ensemble.looks import TEMPLATE_NAMES, TEMPLATES

Image = np.ndarray  # float32 HxWx3 in [0, 1] inside the gradings
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

# --- building blocks: adaptive corrections -----------------------------------------------------------


def luma(x: Image) -> np.ndarray:
    return x @ LUMA


def levels(x: Image, low: float, high: float, amount: float) -> Image:
    """Stretch the photo's own luma percentiles ``low`` / ``high`` to black and white, by ``amount``."""
    lo, hi = np.percentile(luma(x), (low, high))
    stretched = (x - lo) / max(float(hi - lo), 0.05)
    return x + amount * (stretched - x)


def grey_world(x: Image, amount: float) -> Image:
    """Move each channel's mean toward the grey mean (a partial auto white balance), gains kept in 0.75-1.33."""
    means = x.reshape(-1, 3).mean(0) + 1e-3
    gains = np.clip(means.mean() / means, 0.75, 1.33) ** amount
    return x * gains.astype(np.float32)


def exposure_to(x: Image, target: float, amount: float) -> Image:
    """A gamma that moves the mean luma toward ``target`` by ``amount`` (in log terms), kept within 0.6-1.6."""
    mean = float(np.clip(luma(np.clip(x, 0, 1)).mean(), 0.02, 0.98))
    gamma = float(np.clip((np.log(target) / np.log(mean)) ** amount, 0.6, 1.6))
    return np.clip(x, 0.0, 1.0) ** gamma


# --- building blocks: fixed colour work ------------------------------------------------------------


def s_curve(x: Image, amount: float) -> Image:
    """Blend toward smoothstep (more contrast, soft ends); a negative amount flattens."""
    x = np.clip(x, 0.0, 1.0)
    return x + amount * (x * x * (3.0 - 2.0 * x) - x)


def contrast(x: Image, factor: float, pivot: float = 0.5) -> Image:
    return pivot + factor * (x - pivot)


def lift_roll(x: Image, black: Sequence[float] | float, white: Sequence[float] | float = 1.0) -> Image:
    """Map 0..1 onto black..white per channel (a matte print's lifted blacks and rolled-off whites)."""
    b, w = np.asarray(black, np.float32), np.asarray(white, np.float32)
    return b + (w - b) * np.clip(x, 0.0, 1.0)


def gains(x: Image, rgb: Sequence[float]) -> Image:
    return x * np.asarray(rgb, np.float32)


def split_tone(x: Image, shadows: Sequence[float], highlights: Sequence[float]) -> Image:
    """Add a tint weighted toward the shadows and another toward the highlights."""
    y = np.clip(luma(x), 0.0, 1.0)[..., None]
    return x + (1.0 - y) ** 2 * np.asarray(shadows, np.float32) + y**2 * np.asarray(highlights, np.float32)


def saturation(x: Image, factor: float) -> Image:
    y = luma(x)[..., None]
    return y + factor * (x - y)


def mono(x: Image, mix: Sequence[float] | np.ndarray) -> Image:
    y = x @ np.asarray(mix, np.float32)
    return np.repeat(y[..., None], 3, axis=-1)


# --- the looks (names and order: lumaflow.ensemble.looks.TEMPLATES) -----------------------------------


def warm_film(x: Image) -> Image:
    x = exposure_to(grey_world(x, 0.5), 0.45, 0.5)
    x = split_tone(x, (0.0, 0.0, 0.0), (0.07, 0.02, -0.06))
    x = lift_roll(s_curve(x, 0.35), (0.06, 0.05, 0.05), (0.98, 0.97, 0.94))
    return saturation(x, 0.95)


def teal_orange(x: Image) -> Image:
    x = levels(grey_world(x, 0.3), 0.5, 99.5, 0.5)
    x = split_tone(x, (-0.06, 0.03, 0.09), (0.09, 0.02, -0.08))
    return saturation(s_curve(x, 0.4), 1.1)


def faded_matte(x: Image) -> Image:
    x = exposure_to(x, 0.5, 0.5)
    x = lift_roll(contrast(x, 0.85), 0.12, 0.92)
    return saturation(x, 0.8)


def vivid(x: Image) -> Image:
    x = levels(x, 1.0, 99.0, 1.0)
    return saturation(s_curve(x, 0.5), 1.4)


def mono_classic(x: Image) -> Image:
    x = levels(x, 0.5, 99.5, 0.7)
    return s_curve(mono(x, (0.55, 0.35, 0.10)), 0.5)  # a red filter: darker skies, lighter skin


def sepia_print(x: Image) -> Image:
    x = exposure_to(x, 0.45, 0.6)
    y = s_curve(mono(x, LUMA), 0.25)
    toned = np.clip(y, 0.0, 1.0) ** np.array([0.88, 1.0, 1.3], np.float32)  # brown: red up, blue down
    return lift_roll(toned, (0.05, 0.035, 0.02), (0.98, 0.95, 0.88))


def cool_morning(x: Image) -> Image:
    x = exposure_to(grey_world(x, 0.6), 0.55, 0.6)
    x = gains(x, (0.93, 1.0, 1.1))
    x = np.clip(x, 0.0, 1.0) ** 0.85  # opened shadows
    return saturation(contrast(x, 0.9, 0.6), 0.95)


def golden_hour(x: Image) -> Image:
    x = gains(grey_world(x, 0.4), (1.1, 1.02, 0.82))
    x = split_tone(x, (0.02, 0.0, -0.02), (0.06, 0.03, -0.05))
    return saturation(s_curve(x, 0.2), 1.1)


def cross_process(x: Image) -> Image:
    x = levels(x, 1.0, 99.0, 0.6)
    r = s_curve(x[..., 0:1], 0.8)
    g = s_curve(x[..., 1:2], 0.4) * 1.05
    b = lift_roll(x[..., 2:3], 0.15, 0.8)  # blue shadows, yellow highlights
    x = split_tone(np.concatenate((r, g, b), axis=-1), (0.0, 0.0, 0.04), (0.03, 0.06, -0.03))
    return saturation(x, 1.15)


def bleach_bypass(x: Image) -> Image:
    x = levels(x, 0.5, 99.5, 0.5)
    y = luma(x)[..., None]
    x = saturation(s_curve(x, 0.6), 0.45)
    return x + 0.06 * y**2  # silvery highlights


def pastel(x: Image) -> Image:
    x = exposure_to(x, 0.62, 0.7)
    x = lift_roll(contrast(x, 0.7, 0.6), 0.1, 1.0)
    return saturation(split_tone(x, (0.0, 0.0, 0.02), (0.02, 0.0, 0.02)), 0.7)


def vintage_70s(x: Image) -> Image:
    x = gains(grey_world(x, 0.5), (1.04, 1.03, 0.88))
    blue_excess = np.maximum(0.0, x[..., 2:3] - 0.5 * (x[..., 0:1] + x[..., 1:2]))
    x = x - blue_excess * np.array([0.0, 0.0, 0.3], np.float32)  # muted blues
    x = lift_roll(contrast(x, 0.8), (0.06, 0.08, 0.04), (0.96, 0.95, 0.88))
    return saturation(x, 0.85)


GRADINGS: dict[str, Callable[[Image], Image]] = {
    f.__name__: f
    for f in (
        warm_film,
        teal_orange,
        faded_matte,
        vivid,
        mono_classic,
        sepia_print,
        cool_morning,
        golden_hour,
        cross_process,
        bleach_bypass,
        pastel,
        vintage_70s,
    )
}
if tuple(GRADINGS) != TEMPLATE_NAMES:
    raise RuntimeError("the gradings must follow lumaflow.ensemble.looks.TEMPLATES, name for name")


def grade(image: np.ndarray, name: str) -> np.ndarray:
    """The target grading of look ``name`` on a whole uint8 HxWx3 photo (deterministic)."""
    x = image.astype(np.float32) / 255.0
    y = GRADINGS[name](x)
    return np.round(np.clip(y, 0.0, 1.0) * 255.0).astype(np.uint8)


# --- training ----------------------------------------------------------------------------------------


class LooksSampler(CropSampler):
    """((crop, template, strength 1), the crop graded by that look): each crop is graded as a whole photo."""

    def __init__(self, images: Sequence[np.ndarray], patch: int, rng: np.random.Generator) -> None:
        super().__init__(images, patch, rng, flat_keep=1.0)  # colour, not texture: flat crops are fine

    def batch(self, n: int) -> tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
        crops = [np.ascontiguousarray(self.crop()) for _ in range(n)]
        templates = self.rng.integers(0, len(TEMPLATE_NAMES), n)
        targets = [grade(crop, TEMPLATE_NAMES[t]) for crop, t in zip(crops, templates, strict=True)]
        inputs = (to_tensor(crops), torch.from_numpy(templates.astype(np.int64)), torch.ones(n))
        return inputs, to_tensor(targets)


def looks_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.l1_loss(output, target)


# --- evaluation --------------------------------------------------------------------------------------

# The held-out photos at half size (each graded as a whole photo): ΔE on every pixel of them stays
# under a few seconds for 4 photos x 12 looks x 3 methods, as a recipe's evaluation must.
EVAL_SCALE = 0.5


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


METHODS = ("model", "fixed_lut", "identity")


def evaluate_looks(descriptor: ModelDescriptor, photos: dict[str, np.ndarray] | None = None) -> Report:
    """Mean ΔE2000 to each look's grading on the held-out photos: the network, one fixed LUT, the ungraded photo."""
    model = descriptor.model
    if not isinstance(model, LookNet):
        raise TypeError("the looks evaluation needs a LookNet")
    # Small photos gain nothing from a second thread, and on a busy machine its barrier waits made
    # this evaluation six times slower (48 s against 8 s with one thread, measured beside two trainings).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _evaluate(model, eval_photos() if photos is None else photos)
    finally:
        torch.set_num_threads(threads)


def _evaluate(model: LookNet, originals: dict[str, np.ndarray]) -> Report:
    photos = {name: _resize(image, round(image.shape[1] * EVAL_SCALE)) for name, image in originals.items()}
    scores: dict[str, dict[str, list[float]]] = {name: {m: [] for m in METHODS} for name in TEMPLATE_NAMES}
    for image in photos.values():
        for index, name in enumerate(TEMPLATE_NAMES):
            target = grade(image, name)
            outputs = {
                "model": stylize(model, image, index),
                "fixed_lut": fixed_lut(model, image, index),
                "identity": image,
            }
            for method, out in outputs.items():
                scores[name][method].append(delta_e(out, target))
    per_look = {name: {m: round(float(np.mean(v)), 3) for m, v in s.items()} for name, s in scores.items()}
    overall = {m: round(float(np.mean([per_look[n][m] for n in TEMPLATE_NAMES])), 3) for m in METHODS}
    figures: dict[str, Any] = {
        "metric": "mean CIEDE2000 to the look's grading, lower is better",
        "photo_scale": EVAL_SCALE,
        "photos": list(photos),
        "looks": per_look,
        "mean": overall,
    }
    text = [f"{name:14s} " + "  ".join(f"{m} {v:.2f}" for m, v in s.items()) for name, s in per_look.items()]
    text.append("mean           " + "  ".join(f"{m} {v:.2f}" for m, v in overall.items()))
    return Report(figures, text)


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


# --- contact sheet and thumbnails -------------------------------------------------------------------

REPO = Path(__file__).resolve().parent.parent
SHEET = REPO / "docs" / "templates" / "contact_sheet.png"
THUMBNAILS = REPO / "ensemble" / "thumbnails"


def _resize(image: np.ndarray, width: int) -> np.ndarray:
    from PIL import Image as PILImage

    height = round(image.shape[0] * width / image.shape[1])
    return np.asarray(PILImage.fromarray(image).resize((width, height), PILImage.Resampling.LANCZOS))


def contact_sheet(model: LookNet, photo: np.ndarray, tile: int = 256, columns: int = 5) -> np.ndarray:
    """The original then each look, ``tile`` px wide, labelled underneath, in rows of ``columns``."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    tiles = [("original", _resize(photo, tile))]
    tiles += [(look.name, _resize(stylize(model, photo, i), tile)) for i, look in enumerate(TEMPLATES)]
    label, pad = 18, 6
    th = tiles[0][1].shape[0]
    rows = -(-len(tiles) // columns)
    sheet = PILImage.new("RGB", (columns * (tile + pad) + pad, rows * (th + label + pad) + pad), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (name, image) in enumerate(tiles):
        x, y = pad + (i % columns) * (tile + pad), pad + (i // columns) * (th + label + pad)
        sheet.paste(PILImage.fromarray(image), (x, y))
        draw.text((x + 2, y + th + 3), name, fill=(0, 0, 0))
    return np.asarray(sheet)


def write_sheet(weights: Path, photo_name: str, sheet_path: Path, thumbnails: Path, thumb_width: int = 96) -> None:
    from PIL import Image as PILImage

    from lumaflow.build.registry import load_file

    model = load_file(str(weights)).model
    if not isinstance(model, LookNet):
        raise TypeError(f"{weights} is not a LookNet")
    photo = eval_photos()[photo_name]
    sheet_path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(contact_sheet(model, photo)).save(sheet_path, optimize=True)
    thumbnails.mkdir(parents=True, exist_ok=True)
    small = _resize(photo, thumb_width * 2)  # grade at 2x, then downscale: the look, not the noise
    for index, name in enumerate(TEMPLATE_NAMES):
        thumb = _resize(stylize(model, small, index), thumb_width)
        PILImage.fromarray(thumb).save(thumbnails / f"{name}.jpg", quality=80, optimize=True)
    print(f"wrote {sheet_path} and {len(TEMPLATE_NAMES)} thumbnails in {thumbnails}")


def main(argv: list[str] | None = None) -> int:
    from lumaflow.build import WEIGHTS_DIR

    p = argparse.ArgumentParser(prog="python -m lumaflow.build.looks", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sheet = sub.add_parser("sheet", help="render every look on one held-out photo with the trained network")
    sheet.add_argument("--weights", type=Path, default=WEIGHTS_DIR / "looks.pt")
    sheet.add_argument("--photo", default="astronaut", choices=("astronaut", "coffee", "chelsea", "rocket"))
    sheet.add_argument("--out", type=Path, default=SHEET)
    sheet.add_argument("--thumbnails", type=Path, default=THUMBNAILS)
    args = p.parse_args(argv)
    write_sheet(args.weights, args.photo, args.out, args.thumbnails)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
