"""Building blocks of the looks' gradings: adaptive corrections read from the photo, then fixed colour work.

The adaptive blocks are applied in one canonical order in every look (white balance, then levels, then
exposure): together they are a per-channel gain and offset followed by one gamma, the correction the looks
network predicts per photo before its look's LUT (``lumaflow.build.arch.lut``). ``saturation_to`` is the one
adaptive block that acts on colour rather than on levels; the network's basis-LUT mix follows it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Image = np.ndarray  # float32 HxWx3 in [0, 1] inside the gradings
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
Colour = Sequence[float] | np.ndarray


def luma(x: Image) -> np.ndarray:
    return x @ LUMA


# --- adaptive corrections (read from the whole photo) ------------------------------------------------


def grey_world(x: Image, amount: float, towards: Colour = (1.0, 1.0, 1.0)) -> Image:
    """Move the channel means toward ``towards`` x their grey mean (an auto white balance), gains in 0.75-1.33."""
    means = x.reshape(-1, 3).mean(0) + 1e-3
    target = means.mean() * np.asarray(towards, np.float32)
    gains = np.clip(target / means, 0.75, 1.33) ** amount
    return x * gains.astype(np.float32)


def levels(x: Image, low: float, high: float, amount: float) -> Image:
    """Stretch the photo's own luma percentiles ``low`` / ``high`` to black and white, by ``amount``."""
    lo, hi = np.percentile(luma(x), (low, high))
    stretched = (x - lo) / max(float(hi - lo), 0.05)
    return x + amount * (stretched - x)


def exposure_to(x: Image, target: float, amount: float) -> Image:
    """A gamma that moves the mean luma toward ``target`` by ``amount`` (in log terms), kept within 0.6-1.6."""
    mean = float(np.clip(luma(np.clip(x, 0, 1)).mean(), 0.02, 0.98))
    gamma = float(np.clip((np.log(target) / np.log(mean)) ** amount, 0.6, 1.6))
    return np.clip(x, 0.0, 1.0) ** gamma


def chroma(x: Image) -> np.ndarray:
    return np.abs(x - luma(x)[..., None]).mean(-1)


def saturation_to(x: Image, target: float, amount: float) -> Image:
    """Scale colourfulness so the photo's mean chroma moves toward ``target`` by ``amount``, factor in 0.5-2."""
    mean = float(chroma(np.clip(x, 0, 1)).mean()) + 1e-3
    return saturation(x, float(np.clip(target / mean, 0.5, 2.0)) ** amount)


# --- fixed colour work -------------------------------------------------------------------------------


def s_curve(x: Image, amount: float) -> Image:
    """Blend toward smoothstep (more contrast, soft ends); a negative amount flattens."""
    x = np.clip(x, 0.0, 1.0)
    return x + amount * (x * x * (3.0 - 2.0 * x) - x)


def contrast(x: Image, factor: float, pivot: float = 0.5) -> Image:
    return pivot + factor * (x - pivot)


def lift_roll(x: Image, black: Colour | float, white: Colour | float = 1.0) -> Image:
    """Map 0..1 onto black..white per channel (a matte print's lifted blacks and rolled-off whites)."""
    b, w = np.asarray(black, np.float32), np.asarray(white, np.float32)
    return b + (w - b) * np.clip(x, 0.0, 1.0)


def gains(x: Image, rgb: Colour) -> Image:
    return x * np.asarray(rgb, np.float32)


def channel_gamma(x: Image, rgb: Colour) -> Image:
    """Per-channel curves: a gamma below 1 lifts that channel's mid-tones, above 1 sinks them."""
    return np.clip(x, 0.0, 1.0) ** np.asarray(rgb, np.float32)


def split_tone(x: Image, shadows: Colour, highlights: Colour) -> Image:
    """Add a tint weighted toward the shadows and another toward the highlights."""
    y = np.clip(luma(x), 0.0, 1.0)[..., None]
    return x + (1.0 - y) ** 2 * np.asarray(shadows, np.float32) + y**2 * np.asarray(highlights, np.float32)


def tint_mids(x: Image, rgb: Colour) -> Image:
    """Add a tint to the mid-tones only (weight 4y(1-y)): blacks and whites stay neutral."""
    y = np.clip(luma(x), 0.0, 1.0)[..., None]
    return x + 4.0 * y * (1.0 - y) * np.asarray(rgb, np.float32)


def saturation(x: Image, factor: float) -> Image:
    y = luma(x)[..., None]
    return y + factor * (x - y)


def vibrance(x: Image, amount: float) -> Image:
    """Saturate the muted colours more than the already saturated ones (skin and skies stay believable)."""
    c = np.clip(chroma(np.clip(x, 0, 1)) * 4.0, 0.0, 1.0)[..., None]
    y = luma(x)[..., None]
    return y + (1.0 + amount * (1.0 - c)) * (x - y)


def mono(x: Image, mix: Colour) -> Image:
    y = x @ np.asarray(mix, np.float32)
    return np.repeat(y[..., None], 3, axis=-1)


def duotone(x: Image, dark: Colour, light: Colour, mix: Colour = LUMA) -> Image:
    """Monochrome mapped onto a gradient from the ``dark`` colour to the ``light`` one."""
    y = np.clip(x @ np.asarray(mix, np.float32), 0.0, 1.0)[..., None]
    return np.asarray(dark, np.float32) + y * (np.asarray(light, np.float32) - np.asarray(dark, np.float32))


def hue_rotate(x: Image, degrees: float) -> Image:
    """Rotate every colour about the grey axis (greys stay, hues turn)."""
    t = np.deg2rad(degrees)
    k = np.full(3, 1.0 / np.sqrt(3.0))
    cross = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    rotation = np.eye(3) * np.cos(t) + np.sin(t) * cross + (1 - np.cos(t)) * np.outer(k, k)
    return x @ rotation.T.astype(np.float32)


def channel_mix(x: Image, matrix: Sequence[Colour]) -> Image:
    """Each output channel a weighted sum of the input channels (rows: R, G, B out)."""
    return x @ np.asarray(matrix, np.float32).T


def foliage(x: Image) -> np.ndarray:
    """How green a pixel is (green above both others), 0..1, as a weight [H, W, 1]."""
    return np.clip(3.0 * (x[..., 1:2] - np.maximum(x[..., 0:1], x[..., 2:3])), 0.0, 1.0)


def sky(x: Image) -> np.ndarray:
    """How blue a pixel is (blue above both others), 0..1."""
    return np.clip(3.0 * (x[..., 2:3] - np.maximum(x[..., 0:1], x[..., 1:2])), 0.0, 1.0)


def warmth(x: Image) -> np.ndarray:
    """How warm a pixel is (red above blue: skin, wood, food, sunsets), 0..1."""
    return np.clip(2.5 * (x[..., 0:1] - x[..., 2:3]), 0.0, 1.0)


def recolour(x: Image, weight: np.ndarray, rgb: Colour, amount: float) -> Image:
    """Move the weighted pixels toward colour ``rgb`` at their own luma, by ``amount``."""
    y = luma(x)[..., None]
    target = y * np.asarray(rgb, np.float32) / float(np.asarray(rgb, np.float32) @ LUMA)
    return x + amount * weight * (target - x)
