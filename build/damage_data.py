"""Synthetic old-photo damage on real photos: what the damage segmenter trains and is evaluated on.

An old print is first *aged* (``age_photo``): often toned grey or sepia, faded towards the paper,
softened, with paper texture and film grain. None of that is damage: inpainting it away would
destroy the photo, so the mask never marks it and the network must learn to look past it.

Then damage is drawn (``draw_damage``), each kind as a soft alpha layer composited over the print:

- ``scratches``: long thin (1-3 px) slightly curved lines, bright or dark, partly faint;
- ``dust``: small bright or dark specks and blobs, and short curly fibres;
- ``creases``: a long fold line, a few px wide, with a bright highlight side and a dark shadow side;
- ``tears``: paper-coloured (or dark backing-board) regions with a ragged edge, entering from the
  border: torn edges and missing corners.

The mask is what the damage *visibly* changed: a pixel is damage when compositing moved one of its
channels by at least ``VISIBLE`` levels. A faint scratch over a matching background changes nothing
there and is not asked for; everything marked is something inpainting has to repair.

``damaged_photo(image, seed)`` is the deterministic mix used by the evaluation and by the served
``old_photo`` test: damage only, no ageing, so the undamaged input is the exact reference.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from lumaflow.build import WEIGHTS_DIR, degrade
from lumaflow.build.assess import Report
from lumaflow.build.assess_data import CropSampler, to_tensor
from lumaflow.build.eval import rgb_psnr
from lumaflow.build.photos import eval_photos
from lumaflow.build.registry import ModelDescriptor

DAMAGE_KINDS: tuple[str, ...] = ("scratches", "dust", "creases", "tears")
VISIBLE = 10  # levels (of 255) a channel must move for a pixel to count as damaged
PAPER = np.array([236.0, 229.0, 212.0], dtype=np.float32)  # a slightly yellowed print's white
REFERENCE_AREA = 256 * 256  # element counts below are per this many pixels
TONES = ("colour", "grey", "sepia")

# --- ageing (not damage) -----------------------------------------------------------------------


def _smooth_noise(height: int, width: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian-blurred white noise, rescaled to unit standard deviation (a paper's mottling)."""
    white = rng.normal(0.0, 1.0, (height, width)).astype(np.float32)
    noise = np.asarray(cv2.GaussianBlur(white, (0, 0), sigmaX=float(sigma)), dtype=np.float32)
    return noise / max(float(noise.std()), 1e-6)


def age_photo(image: np.ndarray, rng: np.random.Generator, *, tone: str | None = None) -> np.ndarray:
    """Toning (``tone``: colour, grey or sepia; drawn when None), fading, softness, paper texture, grain."""
    if tone is None:
        tone = TONES[int(rng.choice(3, p=[0.3, 0.35, 0.35]))]
    if tone == "grey":
        image = degrade.grey(image)
    elif tone == "sepia":
        image = degrade.sepia(image, float(rng.uniform(0.6, 1.0)))
    elif tone != "colour":
        raise ValueError(f"unknown tone {tone!r}; known: {TONES}")
    image = degrade.gaussian_blur(image, float(rng.uniform(0.0, 1.0)))
    h, w = image.shape[:2]
    x = image.astype(np.float32)
    if tone == "colour":  # colour prints fade unevenly: less saturation, a warm cast
        luma = (x @ degrade.LUMA_WEIGHTS)[..., None]
        x = luma + (x - luma) * float(rng.uniform(0.6, 1.0))
    fade = float(rng.uniform(0.0, 0.3))
    x = x * (1.0 - fade) + PAPER * fade
    mottle = _smooth_noise(h, w, float(rng.uniform(6.0, 30.0)), rng)[..., None]
    x = x * (1.0 + float(rng.uniform(0.0, 0.05)) * mottle)
    grain_sigma = float(rng.uniform(1.0, 7.0))
    grain = rng.normal(0.0, grain_sigma, (h, w, 1 if tone != "colour" else 3)).astype(np.float32)
    x = x + grain
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


# --- damage ------------------------------------------------------------------------------------


def _canvas(height: int, width: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    layer = Image.new("L", (width, height), 0)
    return layer, ImageDraw.Draw(layer)


def _alpha(layer: Image.Image, soften: float) -> np.ndarray:
    alpha = np.asarray(layer, dtype=np.float32) / 255.0
    return cv2.GaussianBlur(alpha, (0, 0), sigmaX=soften) if soften > 0 else alpha


def _composite(x: np.ndarray, alpha: np.ndarray, colour: np.ndarray | float) -> np.ndarray:
    a = alpha[..., None]
    return x * (1.0 - a) + np.asarray(colour, dtype=np.float32) * a


def _curve(start: np.ndarray, end: np.ndarray, bend: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """A quadratic Bezier from ``start`` to ``end`` whose middle bows ``bend`` x the length sideways."""
    d = end - start
    normal = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-6)
    control = (start + end) / 2 + normal * bend * float(np.hypot(*d)) * float(rng.uniform(-1, 1))
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end


def _extreme(rng: np.random.Generator) -> float:
    """A damage colour: bright (dust on the negative, scraped emulsion) or dark (dirt, ink)."""
    return float(rng.uniform(215, 255)) if rng.random() < 0.55 else float(rng.uniform(5, 55))


def _scratches(x: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    h, w = x.shape[:2]
    side = min(h, w)
    for _ in range(count):
        length = float(rng.uniform(0.3, 1.2)) * side
        # Film scratches run along the film (near vertical); print scratches go anywhere.
        angle = np.pi / 2 + float(rng.normal(0, 0.08)) if rng.random() < 0.5 else float(rng.uniform(0, np.pi))
        centre = np.array([rng.uniform(0, w), rng.uniform(0, h)])
        d = np.array([np.cos(angle), np.sin(angle)]) * length / 2
        points = _curve(centre - d, centre + d, 0.08, 24, rng)
        layer, draw = _canvas(h, w)
        width = int(rng.integers(1, 4))
        strength = float(rng.uniform(0.35, 1.0))
        # Opacity drifts along the scratch: it fades in and out as real ones do.
        drift = np.clip(strength * (1.0 + 0.5 * np.cumsum(rng.normal(0, 0.25, len(points)))), 0.1, 1.0)
        for (p, q), a in zip(itertools.pairwise(points), drift[1:], strict=True):
            draw.line([tuple(p), tuple(q)], fill=int(255 * a), width=width)
        x = _composite(x, _alpha(layer, 0.4), _extreme(rng))
    return x


def _dust(x: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    h, w = x.shape[:2]
    for colour in (float(rng.uniform(225, 255)), float(rng.uniform(5, 45))):
        layer, draw = _canvas(h, w)
        for _ in range(count // 2):
            cx, cy = float(rng.uniform(0, w)), float(rng.uniform(0, h))
            if rng.random() < 0.12:  # a fibre: a short curly thread
                n = int(rng.integers(6, 16))
                steps = np.cumsum(rng.normal(0, 1.0, n)) * 0.5 + float(rng.uniform(0, 2 * np.pi))
                pts = np.cumsum(np.stack([np.cos(steps), np.sin(steps)], axis=1) * rng.uniform(1.5, 3.5), axis=0)
                draw.line([(cx + px, cy + py) for px, py in pts], fill=int(rng.uniform(150, 255)), width=1)
            else:  # a speck: an irregular blob of radius 0.7-3.5 px
                r = float(rng.uniform(0.7, 3.5)) if rng.random() < 0.8 else float(rng.uniform(3.5, 6.0))
                k = 7
                angles = np.sort(rng.uniform(0, 2 * np.pi, k))
                radii = r * rng.uniform(0.6, 1.3, k)
                polygon = [(cx + rr * np.cos(a), cy + rr * np.sin(a)) for a, rr in zip(angles, radii, strict=True)]
                draw.polygon(polygon, fill=int(rng.uniform(170, 255)))
        x = _composite(x, _alpha(layer, 0.5), colour)
    return x


def _creases(x: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    h, w = x.shape[:2]
    for _ in range(count):
        # A fold crosses the print: from one border to another, nearly straight.
        t = rng.uniform(0, 1, 2)
        if rng.random() < 0.5:
            start, end = np.array([t[0] * w, -5.0]), np.array([t[1] * w, h + 5.0])
        else:
            start, end = np.array([-5.0, t[0] * h]), np.array([w + 5.0, t[1] * h])
        points = _curve(start, end, 0.03, 32, rng)
        d = end - start
        normal = np.array([-d[1], d[0]]) / float(np.hypot(*d))
        width = float(rng.uniform(3.0, 7.0))
        bright, dark = float(rng.uniform(0.45, 0.85)), float(rng.uniform(0.35, 0.7))
        for offset, strength, colour in ((width / 4, bright, 250.0), (-width / 4, dark, 20.0)):
            layer, draw = _canvas(h, w)
            shifted = [tuple(p + normal * offset) for p in points]
            draw.line(shifted, fill=int(255 * strength), width=max(1, round(width / 2)))
            x = _composite(x, _alpha(layer, 0.7), colour)
        # Cracked emulsion along the fold: white flecks.
        layer, draw = _canvas(h, w)
        for p in points[rng.integers(0, len(points), 12)]:
            q = p + normal * float(rng.normal(0, width / 3)) + rng.normal(0, 3, 2)
            draw.ellipse((q[0] - 1, q[1] - 1, q[0] + 1, q[1] + 1), fill=255)
        x = _composite(x, _alpha(layer, 0.3), 245.0)
    return x


def _ragged(a: np.ndarray, b: np.ndarray, depth: float, rng: np.random.Generator) -> list[tuple[float, float]]:
    """A torn edge from ``a`` to ``b``: a random walk bowing ``depth`` px inwards (to the left of a->b)."""
    n = 40
    t = np.linspace(0.0, 1.0, n)[:, None]
    d = b - a
    normal = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-6)
    walk = np.cumsum(rng.normal(0, 1.0, n))
    walk = walk - np.linspace(walk[0], walk[-1], n)
    bow = np.sin(np.pi * t[:, 0]) * depth + walk * depth * 0.08 + rng.normal(0, 1.2, n)
    pts = a + d * t + normal * bow[:, None]
    return [(float(p[0]), float(p[1])) for p in pts]


def _tears(x: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    h, w = x.shape[:2]
    side = min(h, w)
    corners = np.array([[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]])
    for _ in range(count):
        layer, draw = _canvas(h, w)
        k = int(rng.integers(0, 4))
        if rng.random() < 0.5:  # a missing corner: a ragged cut between its two edges
            c, prev, nxt = corners[k], corners[k - 1], corners[(k + 1) % 4]
            a = c + (prev - c) / np.hypot(*(prev - c)) * rng.uniform(0.08, 0.3) * side
            b = c + (nxt - c) / np.hypot(*(nxt - c)) * rng.uniform(0.08, 0.3) * side
            edge = _ragged(a, b, float(rng.uniform(-0.03, 0.03)) * side, rng)
            draw.polygon([*edge, (float(c[0]), float(c[1]))], fill=255)
        else:  # a tear bitten out of one edge
            p, q = corners[k], corners[(k + 1) % 4]
            u = float(rng.uniform(0.05, 0.8))
            v = min(u + float(rng.uniform(0.05, 0.3)) * side / float(np.hypot(*(q - p))), 0.98)
            a, b = p + (q - p) * u, p + (q - p) * v
            depth = float(rng.uniform(0.03, 0.15)) * side
            # Corners run clockwise on screen (y down), so the bow of a->b points into the print.
            draw.polygon(_ragged(a, b, depth, rng), fill=255)
        alpha = _alpha(layer, 0.6)
        if rng.random() < 0.75:  # paper showing through, with its own texture
            fill = PAPER * float(rng.uniform(0.92, 1.03)) + 4.0 * _smooth_noise(h, w, 3.0, rng)[..., None]
        else:  # the dark board the print was mounted on
            fill = np.full((h, w, 3), float(rng.uniform(20, 70)), dtype=np.float32)
        x = _composite(x, alpha, fill)
    return x


DRAWERS: dict[str, Callable[[np.ndarray, int, np.random.Generator], np.ndarray]] = {
    "scratches": _scratches,
    "dust": _dust,
    "creases": _creases,
    "tears": _tears,
}
# Elements per REFERENCE_AREA at amount 1 (tears and creases are per photo, not per area: a print
# has a fold or a torn corner whatever its scan resolution).
DENSITY = {"scratches": 2.0, "dust": 30.0}
PER_PHOTO = {"creases": 1, "tears": 1}


def draw_damage(
    image: np.ndarray, rng: np.random.Generator, *, kinds: Sequence[str] = DAMAGE_KINDS, amount: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """(damaged uint8 HxWx3, mask uint8 HxW with 1 = damage): ``kinds`` drawn over ``image``, nothing else."""
    h, w = image.shape[:2]
    x = image.astype(np.float32)
    for kind in kinds:
        if kind in DENSITY:
            count = int(rng.poisson(DENSITY[kind] * amount * h * w / REFERENCE_AREA))
        elif kind in PER_PHOTO:
            count = int(rng.poisson(PER_PHOTO[kind] * amount)) if amount < 1 else max(1, round(amount))
        else:
            raise ValueError(f"unknown damage {kind!r}; known: {DAMAGE_KINDS}")
        if count:
            x = DRAWERS[kind](x, count, rng)
    damaged = np.clip(np.round(x), 0, 255).astype(np.uint8)
    changed = np.abs(damaged.astype(np.int16) - image.astype(np.int16)).max(axis=2) >= VISIBLE
    return damaged, changed.astype(np.uint8)


def add_damage(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    kinds: Sequence[str] = DAMAGE_KINDS,
    amount: float = 1.0,
    age: bool = True,
    tone: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """An old print of ``image``: aged (toning, fading, texture, grain; unmarked) when ``age``, then damaged.

    Returns (damaged uint8 HxWx3, mask uint8 HxW, 1 = damage).
    """
    if age:
        image = age_photo(image, rng, tone=tone)
    return draw_damage(image, rng, kinds=kinds, amount=amount)


def damaged_photo(
    image: np.ndarray, seed: int, *, kinds: Sequence[str] = DAMAGE_KINDS, amount: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """The fixed damage of ``seed`` over ``image`` (no ageing: ``image`` is the undamaged reference)."""
    return draw_damage(image, np.random.default_rng(9000 + seed), kinds=kinds, amount=amount)


# --- training -----------------------------------------------------------------------------------


class DamageSampler(CropSampler):
    """(aged, damaged crop; its mask): a random mix of damage kinds per crop, 10% undamaged (ageing only)."""

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        inputs, masks = [], []
        for _ in range(n):
            crop = age_photo(np.ascontiguousarray(self.crop()), self.rng)
            if self.rng.random() < 0.1:
                damaged, mask = crop, np.zeros(crop.shape[:2], dtype=np.uint8)
            else:
                kinds = [kind for kind in DAMAGE_KINDS if self.rng.random() < 0.6] or ["scratches"]
                damaged, mask = draw_damage(crop, self.rng, kinds=kinds, amount=float(self.rng.uniform(0.5, 2.0)))
            inputs.append(damaged)
            masks.append(mask)
        return to_tensor(inputs), torch.from_numpy(np.stack(masks)[:, None].astype(np.float32))


def damage_loss(probability: torch.Tensor, target: torch.Tensor, dice_weight: float = 1.0) -> torch.Tensor:
    """BCE + ``dice_weight`` x soft Dice over the batch: damage is a few percent of the pixels, so BCE
    alone is content to say "clean" everywhere; Dice scores the overlap itself (what IoU measures)."""
    p = probability.clamp(1e-6, 1.0 - 1e-6)
    bce = F.binary_cross_entropy(p, target)
    dice = 1.0 - (2.0 * (p * target).sum() + 1.0) / (p.sum() + target.sum() + 1.0)
    return bce + dice_weight * dice


# --- classical baseline ---------------------------------------------------------------------------

# Tuned by `tune_tophat` on damaged crops of the wallpaper photos (never the held-out ones).
TOPHAT_SIZE = 5
TOPHAT_THRESHOLD = 25


def tophat_mask(image: np.ndarray, size: int = TOPHAT_SIZE, threshold: float = TOPHAT_THRESHOLD) -> np.ndarray:
    """Morphological black and white top-hats of the luma (elliptical ``size`` px element), thresholded.

    Finds what is thinner than the element and brighter or darker than its surroundings: scratches,
    specks and fold lines; blind by construction to tears (wide) and unable to tell detail from dust.
    """
    luma = np.round(image.astype(np.float32) @ degrade.LUMA_WEIGHTS).astype(np.uint8)
    element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    white = cv2.morphologyEx(luma, cv2.MORPH_TOPHAT, element)
    black = cv2.morphologyEx(luma, cv2.MORPH_BLACKHAT, element)
    return (np.maximum(white, black) > threshold).astype(np.uint8)


def tune_tophat(
    photos: Sequence[np.ndarray], sizes: Sequence[int] = (3, 5, 7, 9, 11, 15), thresholds: Sequence[int] = ()
) -> tuple[int, int, float]:
    """Grid-search (size, threshold) for the best mean IoU on aged, damaged ``photos``; returns (size, t, IoU)."""
    thresholds = thresholds or tuple(range(10, 80, 5))
    cases = []
    for index, photo in enumerate(photos):
        rng = np.random.default_rng(100 + index)
        cases.append(add_damage(photo, rng, tone=TONES[index % 3]))
    best = (0, 0, -1.0)
    for size in sizes:
        for t in thresholds:
            score = float(np.mean([iou(tophat_mask(d, size, t), m) for d, m in cases]))
            if score > best[2]:
                best = (size, t, score)
    return best


# --- evaluation -----------------------------------------------------------------------------------

CONDITIONS: dict[str, tuple[str, ...]] = {
    "scratches+dust": ("scratches", "dust"),
    "creases+tears": ("creases", "tears"),
    "all": DAMAGE_KINDS,
}
EVAL_TONES = ("colour", "sepia")
EVAL_SIZE = (192, 256)  # centre crop (H, W) of each held-out photo at half size: CI runs the evaluation
DILATE = 1  # px the predicted and true masks grow by before inpainting: the soft rim of each mark


def iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two binary masks (1.0 when both are empty)."""
    p, t = predicted.astype(bool), truth.astype(bool)
    union = int(np.count_nonzero(p | t))
    return 1.0 if union == 0 else int(np.count_nonzero(p & t)) / union


def predict_mask(model: torch.nn.Module, image: np.ndarray) -> np.ndarray:
    """uint8 HxW, 1 where the model's damage probability (as the served uint8 rounds it) is > 0.5."""
    with torch.inference_mode():
        p = model(to_tensor([image]))[0, 0]
    return (torch.round(p.clamp(0, 1) * 255) > 127).to(torch.uint8).numpy()


def dilate(mask: np.ndarray, px: int = DILATE) -> np.ndarray:
    if px <= 0:
        return mask
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1)))


@functools.cache
def eval_cases() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Held-out cases "photo/tone/condition" -> (undamaged aged print, damaged, mask) of scikit-image's four photos."""
    return cases_of(eval_photos())


def cases_of(photos: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each photo at half size, centre crop, aged per tone and damaged per condition, with fixed seeds."""
    cases = {}
    for p, (name, photo) in enumerate(photos.items()):
        h, w = photo.shape[:2]
        small = degrade.resize(photo, w // 2, h // 2)
        top, left = max(0, (h // 2 - EVAL_SIZE[0]) // 2), max(0, (w // 2 - EVAL_SIZE[1]) // 2)
        small = np.ascontiguousarray(small[top : top + EVAL_SIZE[0], left : left + EVAL_SIZE[1]])
        for t, tone in enumerate(EVAL_TONES):
            aged = age_photo(small, np.random.default_rng(8000 + 10 * p + t), tone=tone)
            for c, (condition, kinds) in enumerate(CONDITIONS.items()):
                damaged, mask = damaged_photo(aged, 100 * p + 10 * t + c, kinds=kinds)
                cases[f"{name}/{tone}/{condition}"] = (aged, damaged, mask)
    return cases


def evaluate_damage(descriptor: ModelDescriptor, photos: dict[str, np.ndarray] | None = None) -> Report:
    """Mask IoU per condition (network vs top-hat), and the inpainting chain's PSNR, on `photos` (default: eval's)."""
    from lumaflow.build.inpaint_data import inpaint  # imported here: it is not needed to train
    from lumaflow.build.registry import load_file

    model = descriptor.model
    inpainter = load_file(str(WEIGHTS_DIR / "inpaint.pt")).model
    scores: dict[str, dict[str, list[float]]] = {}
    chain: dict[str, list[float]] = {"damaged": [], "inpaint_predicted": [], "inpaint_true": []}
    fractions = []
    for key, (aged, damaged, mask) in (cases := eval_cases() if photos is None else cases_of(photos)).items():
        _, tone, condition = key.split("/")
        predicted = predict_mask(model, damaged)
        row = scores.setdefault(f"{tone}/{condition}", {"model": [], "tophat": []})
        row["model"].append(iou(predicted, mask))
        row["tophat"].append(iou(tophat_mask(damaged), mask))
        fractions.append(float(mask.mean()))
        if condition == "all":
            chain["damaged"].append(rgb_psnr(damaged, aged))
            chain["inpaint_predicted"].append(rgb_psnr(inpaint(inpainter, damaged, dilate(predicted)), aged))
            chain["inpaint_true"].append(rgb_psnr(inpaint(inpainter, damaged, dilate(mask)), aged))
    figures: dict[str, Any] = {
        "metric": "mask IoU (p > 0.5) on held-out photos (half size, centre 192x256);"
        " PSNR dB against the undamaged aged print",
        "photos": sorted({key.split("/")[0] for key in cases}),
        "mean_damage_fraction": round(float(np.mean(fractions)), 4),
        "tophat": {"size": TOPHAT_SIZE, "threshold": TOPHAT_THRESHOLD},
        "iou": {
            cond: {method: round(float(np.mean(v)), 4) for method, v in row.items()} for cond, row in scores.items()
        },
        "inpaint_chain_psnr": {name: round(float(np.mean(v)), 3) for name, v in chain.items()},
        "dilate_px": DILATE,
    }
    every = {m: float(np.mean([np.mean(r[m]) for r in scores.values()])) for m in ("model", "tophat")}
    figures["iou"]["mean"] = {m: round(v, 4) for m, v in every.items()}
    text = [f"[{cond}] IoU model {v['model']:.3f}  tophat {v['tophat']:.3f}" for cond, v in figures["iou"].items()]
    c = figures["inpaint_chain_psnr"]
    text.append(
        f"[inpaint chain, all damage] damaged {c['damaged']:.2f} dB  predicted mask {c['inpaint_predicted']:.2f} dB"
        f"  true mask {c['inpaint_true']:.2f} dB"
    )
    return Report(figures, text)
