"""Real sensor noise, made two ways: one to train the noise-map estimator on, one (never trained on) to judge it.

Sensor noise is Poisson–Gaussian in linear light: a raw value x (0..1) reads as x + n with Var(n) = a·x + b
(``a`` the shot-noise gain, ``b`` the read-noise variance; Foi et al. 2008). After the sRGB curve the noise of
a pixel depends on its brightness, and after a camera's demosaicking and JPEG it is no longer white.

- `training_noise_with_level`: what `lumaflow.build.train_noise_map` learns from: Poisson–Gaussian per RGB value in
  linear light, its level scaled by a smooth random field (noise that varies by region, as after a phone's local
  processing), optionally correlated by a small random blur of the noise itself (renormalised to keep its
  variance), then the sRGB curve and uint8. No mosaic, no demosaicking, no JPEG.
- `training_camera`: what `lumaflow.build.train_ffdnet` fine-tunes FFDNet on: a camera unlike the evaluation's
  (any of the four Bayer phases, bilinear demosaicking, JPEG at a random quality or none), with its own reference.
- `camera_pipeline`: the evaluation's camera, never used in training: an RGGB Bayer mosaic of the linear photo,
  Poisson–Gaussian noise on it, OpenCV's edge-aware demosaicking, the sRGB curve, uint8, then JPEG q90.
  Its reference is `camera_reference`, the same rendering without noise and without JPEG: a denoiser is asked to
  recover what the camera would have made of the scene, not to undo demosaicking.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from lumaflow.build import degrade

# (a, b) of the evaluation's three camera strengths: a phone in daylight, indoors, and at night (read noise
# dominant). Linear light on a 0..1 scale.
CAMERA_STRENGTHS: dict[str, tuple[float, float]] = {
    "day": (0.002, 1e-5),
    "indoor": (0.008, 6e-5),
    "night": (0.004, 1e-3),
}
CAMERA_JPEG_QUALITY = 90

# The training draws: a and b log-uniform over ranges that cover the strengths above and more.
SHOT_RANGE = (1e-4, 4e-2)
READ_RANGE = (1e-6, 2e-3)
# The training camera's JPEG: this share of its crops, at a quality drawn from 70-98.
TRAINING_JPEG_SHARE = 0.8
TRAINING_JPEG_QUALITIES = (70, 99)


def srgb_to_linear(pixels: np.ndarray) -> np.ndarray:
    """uint8 sRGB -> float64 linear light in 0..1."""
    return degrade.srgb_to_linear(pixels.astype(np.float64) / 255.0)


def linear_to_srgb8(linear: np.ndarray) -> np.ndarray:
    """Linear light (clipped to 0..1) -> uint8 sRGB, rounded."""
    return np.clip(np.round(degrade.linear_to_srgb(linear) * 255.0), 0, 255).astype(np.uint8)


def smooth_field(shape: tuple[int, int], rng: np.random.Generator, spread: float, cells: int = 4) -> np.ndarray:
    """A positive field, log-normal with ``spread`` (std of its log) on a ``cells`` grid, smoothly upsampled."""
    grid = np.exp(rng.normal(0.0, spread, (cells, cells))).astype(np.float32)
    return cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC).clip(0.05, None)


def training_noise_with_level(
    clean: np.ndarray, rng: np.random.Generator, *, spread: float = 0.4, correlated: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """``clean`` uint8 HxWx3 with Poisson–Gaussian noise of random strength, varying by region, maybe correlated;
    and the noise's standard deviation per pixel on the sRGB 0–255 scale (HxW, the mean over channels, to first
    order: the linear level times the sRGB curve's slope)."""
    a = float(np.exp(rng.uniform(*np.log(SHOT_RANGE))))
    b = float(np.exp(rng.uniform(*np.log(READ_RANGE))))
    linear = srgb_to_linear(clean)
    white = rng.standard_normal(linear.shape)
    if rng.random() < correlated:
        width = float(rng.uniform(0.4, 1.2))
        white = np.asarray(cv2.GaussianBlur(white, (0, 0), width), np.float64)
        white /= white.std() + 1e-12
    level = np.sqrt(a * linear + b) * smooth_field((clean.shape[0], clean.shape[1]), rng, spread)[..., None]
    slope = np.where(linear <= 0.0031308, 12.92, 1.055 / 2.4 * np.maximum(linear, 1e-6) ** (1 / 2.4 - 1))
    return linear_to_srgb8(linear + level * white), (level * slope * 255.0).mean(-1)


def _mosaic(linear: np.ndarray) -> np.ndarray:
    """RGGB: R at even rows and columns, B at odd rows and columns, G elsewhere."""
    bayer = np.empty(linear.shape[:2])
    bayer[0::2, 0::2] = linear[0::2, 0::2, 0]
    bayer[0::2, 1::2] = linear[0::2, 1::2, 1]
    bayer[1::2, 0::2] = linear[1::2, 0::2, 1]
    bayer[1::2, 1::2] = linear[1::2, 1::2, 2]
    return bayer


def _demosaic(bayer: np.ndarray, method: int = cv2.COLOR_BayerBG2RGB_EA) -> np.ndarray:
    # OpenCV names Bayer patterns by the second row's first two pixels: our RGGB is its "BG".
    raw = np.clip(np.round(bayer * 65535.0), 0, 65535).astype(np.uint16)
    return cv2.cvtColor(raw, method).astype(np.float64) / 65535.0


def _even(pixels: np.ndarray) -> np.ndarray:
    h, w = pixels.shape[0] // 2 * 2, pixels.shape[1] // 2 * 2
    return pixels[:h, :w]


def camera_reference(clean: np.ndarray) -> np.ndarray:
    """What the evaluation's camera renders from ``clean`` with no noise (and no JPEG); even height and width."""
    return linear_to_srgb8(_demosaic(_mosaic(srgb_to_linear(_even(clean)))))


def _jpeg(pixels: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"))


def camera_pipeline(clean: np.ndarray, strength: str, seed: int) -> np.ndarray:
    """``clean`` through the evaluation's camera at a named strength: mosaic, noise, demosaic, sRGB, JPEG q90."""
    a, b = CAMERA_STRENGTHS[strength]
    rng = np.random.default_rng(seed)
    bayer = _mosaic(srgb_to_linear(_even(clean)))
    noisy = bayer + np.sqrt(a * np.clip(bayer, 0.0, None) + b) * rng.standard_normal(bayer.shape)
    return _jpeg(linear_to_srgb8(_demosaic(noisy)), CAMERA_JPEG_QUALITY)


def training_camera(clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, reference) of ``clean`` (even height and width) through a camera unlike the evaluation's.

    The Bayer phase is any of four (the photo flipped before an RGGB mosaic and back after), the noise
    Poisson–Gaussian of a strength drawn from the training ranges, the demosaicking bilinear (the evaluation's is
    edge-aware), then sRGB and, for ``TRAINING_JPEG_SHARE`` of the crops, JPEG at a random quality. The reference
    is the same rendering without noise or JPEG, as `camera_reference` is for the evaluation's camera."""
    flip_rows, flip_columns = rng.random() < 0.5, rng.random() < 0.5

    def orient(pixels: np.ndarray) -> np.ndarray:  # its own inverse
        pixels = pixels[::-1] if flip_rows else pixels
        return np.ascontiguousarray(pixels[:, ::-1] if flip_columns else pixels)

    a = float(np.exp(rng.uniform(*np.log(SHOT_RANGE))))
    b = float(np.exp(rng.uniform(*np.log(READ_RANGE))))
    bayer = _mosaic(orient(srgb_to_linear(clean)))
    noisy = bayer + np.sqrt(a * np.clip(bayer, 0.0, None) + b) * rng.standard_normal(bayer.shape)
    reference = linear_to_srgb8(orient(_demosaic(bayer, cv2.COLOR_BayerBG2RGB)))
    rendered = linear_to_srgb8(orient(_demosaic(noisy, cv2.COLOR_BayerBG2RGB)))
    if rng.random() < TRAINING_JPEG_SHARE:
        rendered = _jpeg(rendered, int(rng.integers(*TRAINING_JPEG_QUALITIES)))
    return rendered, reference
