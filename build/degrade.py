"""Synthetic degradations of real photos: what our restoration networks train and are evaluated on.

Each is a plain function of a uint8 HxWx3 image (and a numpy generator for the random ones), so
training (per patch) and evaluation (per photo, fixed seeds) degrade exactly alike.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode with Pillow's libjpeg at `quality` (4:2:0 chroma, as cameras and the web do)."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=int(quality), subsampling=2)
    buf.seek(0)
    with Image.open(buf) as decoded:
        return np.asarray(decoded.convert("RGB"))


def gaussian_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Add white Gaussian noise of `sigma` (0-255 scale), rounded and clipped to uint8."""
    noisy = image.astype(np.float32) + rng.normal(0.0, sigma, image.shape).astype(np.float32)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def exposure(
    image: np.ndarray, stops: float, *, read_noise: float = 0.0, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Re-expose by `stops` EV in linear light (clipping highlights), with optional sensor noise.

    The noise is signal-dependent like a sensor's: shot noise grows with the square root of the
    linear signal and a constant read noise (`read_noise`, on the 0-1 linear scale) sits under it,
    so an underexposed photo comes out dark *and* noisy in its shadows, as a phone's does.
    """
    linear = srgb_to_linear(image.astype(np.float64) / 255.0) * (2.0**stops)
    if read_noise > 0:
        if rng is None:
            raise ValueError("sensor noise needs a generator")
        sigma = np.sqrt(np.clip(linear, 0.0, 1.0) * read_noise * 0.5 + read_noise**2)
        linear = linear + rng.normal(0.0, 1.0, linear.shape) * sigma
    return np.round(linear_to_srgb(linear) * 255.0).astype(np.uint8)


# --- the random per-patch degradations the trainers draw --------------------------------------------


def mild_camera(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What a small camera frame carries besides blur, mildly: a third clean, else noise σ <= 4, half with JPEG.

    Mild on purpose: the camera x2 must still clear bicubic by 1.5 dB on clean frames, and every
    bit of denoising it learns costs detail on those.
    """
    if rng.random() < 1 / 3:
        return image
    out = gaussian_noise(image, float(rng.uniform(0.5, 4.0)), rng)
    if rng.random() < 0.5:
        out = jpeg(out, int(rng.integers(70, 96)))
    return out


def random_exposure(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Under- (mostly) or over-exposure by -3 to +1 EV with sensor noise; 30% only lightly noised.

    The untouched share teaches the network to leave a well-exposed frame alone.
    """
    if rng.random() < 0.3:
        return gaussian_noise(image, float(rng.uniform(0.0, 3.0)), rng)
    stops = float(rng.uniform(-3.0, 1.0))
    return exposure(image, stops, read_noise=float(rng.uniform(0.002, 0.012)), rng=rng)


# --- the analysis network's degradations (tone, blur) ------------------------------------------------

LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# The classic sepia tint applied to a grey image: what an old print's toning does to neutral tones.
SEPIA_TINT = np.array([1.351, 1.203, 0.937], dtype=np.float32)


def grey(image: np.ndarray) -> np.ndarray:
    """BT.601 luma in all three channels: a black-and-white photo stored as RGB."""
    luma = image.astype(np.float32) @ LUMA_WEIGHTS
    return np.repeat(np.clip(np.round(luma), 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def sepia(image: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """A sepia-toned print: luma times the tint (``strength`` 0 = grey, 1 = full tone), clipped."""
    luma = (image.astype(np.float32) @ LUMA_WEIGHTS)[..., None]
    toned = luma * (1.0 + strength * (SEPIA_TINT - 1.0))
    return np.clip(np.round(toned), 0, 255).astype(np.uint8)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of standard deviation ``sigma`` pixels (Pillow's GaussianBlur radius is σ)."""
    if sigma <= 0:
        return image
    from PIL import ImageFilter

    return np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius=float(sigma))))


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pillow bicubic (antialiased when shrinking) to ``width`` x ``height``."""
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BICUBIC))


def unsharp(image: np.ndarray, *, radius: float, percent: int) -> np.ndarray:
    """Over-sharpening (Pillow's unsharp mask): the haloes a heavy-handed enhancer leaves."""
    from PIL import ImageFilter

    return np.asarray(Image.fromarray(image).filter(ImageFilter.UnsharpMask(radius=radius, percent=percent)))


def gamma_darken(image: np.ndarray, gamma: float) -> np.ndarray:
    """``x ** gamma`` on the 0-1 scale: an under-developed or badly tone-mapped photo (gamma > 1 darkens)."""
    x = image.astype(np.float64) / 255.0
    return np.round(np.power(x, gamma) * 255.0).astype(np.uint8)


def random_low_light(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A photo taken in too little light: 65% re-exposed -4..-1 EV in linear light with sensor noise,
    25% darkened by a gamma of 1.5-3.5 with light noise, 10% left alone (light noise only)."""
    u = rng.random()
    if u < 0.10:
        return gaussian_noise(image, float(rng.uniform(0.0, 2.0)), rng)
    if u < 0.35:
        return gaussian_noise(gamma_darken(image, float(rng.uniform(1.5, 3.5))), float(rng.uniform(0.5, 4.0)), rng)
    stops = float(rng.uniform(-4.0, -1.0))
    return exposure(image, stops, read_noise=float(rng.uniform(0.002, 0.015)), rng=rng)
