"""Denoising: the served two-input ONNX graph (pixels + noise level) and a quality benchmark on real photos.

`export_denoiser_onnx` / `verify_denoiser_onnx` are the two-input siblings of `export.export_onnx` /
`export.verify_onnx` (which take one input): ``PIXELS`` uint8 [N, H, W, 3] and ``NOISE_LEVEL``
float32 [N, 1] (sigma on the 0-255 scale) in, ``DENOISED`` uint8 [N, H, W, 3] out, N/H/W dynamic.

`evaluate_denoise` adds Gaussian noise of known sigma (fixed seeds) to crops of scikit-image's photos,
which no network here was trained on, and scores the model against the noisy input, a Gaussian blur
and scikit-image's non-local means, in RGB PSNR and SSIM.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter
from skimage import data as skdata
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from skimage.restoration import denoise_nl_means
from torch import nn

from lumaflow.build.arch.ffdnet import NoiseLevelPixelsGraph
from lumaflow.build.eval import run_served
from lumaflow.build.export import DEFAULT_OPSET, Parity, export_program, image_axes, judge_uint8, open_graph

PIXELS, NOISE_LEVEL, DENOISED = "PIXELS", "NOISE_LEVEL", "DENOISED"
FLOAT_INPUT, FLOAT_SIGMA, FLOAT_OUTPUT = "INPUT", "SIGMA", "OUTPUT"  # the bare model's graph (checks only)

# Photos scikit-image ships (never trained on): a portrait, a still life, a cat.
DENOISE_PHOTOS: tuple[str, ...] = ("astronaut", "coffee", "chelsea")
DENOISE_SIGMAS: tuple[int, ...] = (15, 25, 50)
METHODS: tuple[str, ...] = ("noisy", "blur", "nlm", "model")


# --- ONNX ----------------------------------------------------------------------------------------


def export_denoiser_onnx(
    module: nn.Module,
    path: str | os.PathLike[str],
    *,
    float_graph: bool = False,
    opset: int = DEFAULT_OPSET,
    names: tuple[str, str, str] = (PIXELS, NOISE_LEVEL, DENOISED),
) -> Path:
    """Export a two-input denoiser with dynamic N/H/W, writing `path` atomically; returns the path.

    By default `module` is a `NoiseLevelPixelsGraph` (``PIXELS`` uint8 NHWC, ``NOISE_LEVEL`` [N, 1]); ``names``
    (pixels, per-image value, output) serve another such graph (``JPEG_QUALITY``'s de-JPEG).
    With `float_graph` it is the bare model (float NCHW ``INPUT`` in [0, 1], ``SIGMA`` [N, 1, 1, 1] as
    sigma / 255 -> ``OUTPUT``), which `verify_float_denoiser_onnx` checks without uint8 rounding.
    The example is batch 2 with H != W, so no axis can be specialised to a constant by the tracer;
    the noise input's batch axis is the same symbol as the image's.
    """
    batch, height, width = image_axes()
    example: tuple[torch.Tensor, torch.Tensor]
    if float_graph:
        example = (torch.zeros(2, 3, 32, 48), torch.full((2, 1, 1, 1), 25.0 / 255.0))
        dynamic = ({0: batch, 2: height, 3: width}, {0: batch})
        names = (FLOAT_INPUT, FLOAT_SIGMA, FLOAT_OUTPUT)
    else:
        example = (torch.zeros(2, 32, 48, 3, dtype=torch.uint8), torch.full((2, 1), 25.0))
        dynamic = ({0: batch, 1: height, 2: width}, {0: batch})
    return export_program(module, path, example, dynamic, names[:2], names[2], opset)


def verify_denoiser_onnx(
    module: nn.Module,
    path: str | os.PathLike[str],
    samples: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    max_abs_diff: int = 1,
    max_frac_differing: float = 1e-3,
    side_name: str = NOISE_LEVEL,
) -> Parity:
    """Run (uint8 NHWC pixels, float32 [N, 1] noise level, or ``side_name``'s value) samples through torch and
    ORT; raise on drift.

    As in `export.verify_onnx`, off-by-one values are allowed at a tiny rate (a float sum in another
    order can cross a .5 rounding boundary); anything larger is a real bug.
    """
    if len({pixels.shape[1:3] for pixels, _ in samples}) < 2:
        raise ValueError("give samples of at least two different H x W, or dynamic axes go unchecked")
    engine = open_graph(path)
    names = list(engine.input_names)
    if names != [PIXELS, side_name]:
        raise AssertionError(f"graph inputs are {names}, expected {[PIXELS, side_name]}")
    module = module.eval()
    pairs = []
    with torch.inference_mode():
        for pixels, level in samples:
            level = np.ascontiguousarray(level, dtype=np.float32)
            expected = module(torch.from_numpy(np.ascontiguousarray(pixels)), torch.from_numpy(level)).numpy()
            got = engine.run({PIXELS: pixels, side_name: level})[0]
            if got.shape != expected.shape or got.dtype != expected.dtype:
                raise AssertionError(f"ORT gave {got.dtype}{got.shape}, torch {expected.dtype}{expected.shape}")
            pairs.append((expected, got))
    return judge_uint8(pairs, tuple(p.shape for p, _ in samples), max_abs_diff, max_frac_differing)


def verify_float_denoiser_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    samples: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    atol: float = 1e-3,
) -> Parity:
    """Like `verify_denoiser_onnx`, for the bare float graph (``float_graph=True``), fed the same samples.

    This catches small numeric drift that uint8 rounding hides. ``frac_differing`` is the share over `atol`.
    """
    if len({pixels.shape[1:3] for pixels, _ in samples}) < 2:
        raise ValueError("give samples of at least two different H x W, or dynamic axes go unchecked")
    engine = open_graph(path)
    model = model.eval()
    worst, over, total = 0.0, 0, 0
    with torch.inference_mode():
        for pixels, level in samples:
            x = np.ascontiguousarray(pixels.transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(255.0)
            sigma = np.ascontiguousarray(level, dtype=np.float32).reshape(-1, 1, 1, 1) / np.float32(255.0)
            expected = model(torch.from_numpy(x), torch.from_numpy(sigma)).numpy()
            got = engine.run({FLOAT_INPUT: x, FLOAT_SIGMA: sigma})[0]
            if got.shape != expected.shape:
                raise AssertionError(f"ORT gave {got.shape}, torch {expected.shape}")
            diff = np.abs(expected - got)
            worst = max(worst, float(diff.max()))
            over += int(np.count_nonzero(diff > atol))
            total += diff.size
    parity = Parity(worst, over / total, tuple(p.shape for p, _ in samples))
    if worst > atol:
        raise AssertionError(f"float ONNX graph drifts from torch by {worst:.3g} (> {atol})")
    return parity


# --- quality -------------------------------------------------------------------------------------


def photo(name: str) -> np.ndarray:
    """One of scikit-image's bundled RGB photos, as uint8 HxWx3."""
    return np.asarray(getattr(skdata, name)(), dtype=np.uint8)


def center_crop(image: np.ndarray, size: int, width: int | None = None) -> np.ndarray:
    """The central `size` x `size` window, or `size` x `width` (each side capped at the image's own)."""
    h, w = image.shape[:2]
    ch, cw = min(size, h), min(size if width is None else width, w)
    top, left = (h - ch) // 2, (w - cw) // 2
    return image[top : top + ch, left : left + cw]


def add_gaussian_noise(clean: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """`clean` + N(0, sigma^2) per value (0-255 scale), rounded and clipped to uint8 as a real file would be."""
    return gaussian_noise(clean, sigma, np.random.default_rng(seed))


def gaussian_noise(clean: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """`add_gaussian_noise` drawing from ``rng`` (a trainer's stream) instead of a seed of its own."""
    noisy = clean.astype(np.float64) + rng.normal(0.0, sigma, clean.shape)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


def gaussian_blur(noisy: np.ndarray, radius: float = 1.0) -> np.ndarray:
    return np.asarray(Image.fromarray(noisy).filter(ImageFilter.GaussianBlur(radius)))


# scikit-image's own example for a known sigma in fast mode (plot_nonlocal_means): h = 0.6 sigma.
NLM_H_FACTOR = 0.6
# The oracle's candidates: h as a multiple of sigma, the best per photo chosen against the clean photo.
NLM_ORACLE_H_FACTORS: tuple[float, ...] = (0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.2)


def nl_means(noisy: np.ndarray, sigma: float, h_factor: float = NLM_H_FACTOR) -> np.ndarray:
    """scikit-image's non-local means as its example runs it for a known sigma: h = 0.6 sigma, patch 5,
    distance 6, fast mode."""
    s = sigma / 255.0
    out = denoise_nl_means(
        noisy.astype(np.float64) / 255.0,
        h=h_factor * s,
        sigma=s,
        patch_size=5,
        patch_distance=6,
        fast_mode=True,
        channel_axis=-1,
    )
    return np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)


def nl_means_oracle(noisy: np.ndarray, sigma: float, clean: np.ndarray) -> np.ndarray:
    """NLM with the h (of `NLM_ORACLE_H_FACTORS` x sigma) that scores best against the clean photo: an upper
    bound for NLM that no real use can reach."""
    candidates = [nl_means(noisy, sigma, factor) for factor in NLM_ORACLE_H_FACTORS]
    errors = [float(np.mean((c.astype(np.float64) - clean) ** 2)) for c in candidates]
    return candidates[int(np.argmin(errors))]


def bm3d_available() -> bool:
    """BM3D (Tampere University's `bm3d` wheel) is optional: its licence allows non-commercial use only, so it
    is never a dependency; `pip install bm3d` adds the baseline to `lumaflow eval`."""
    import importlib.util

    return importlib.util.find_spec("bm3d") is not None


def bm3d_rgb(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """Colour BM3D (the `bm3d` wheel's `bm3d_rgb`, its default profile) told the true sigma."""
    import bm3d

    out = bm3d.bm3d_rgb(noisy.astype(np.float64) / 255.0, sigma / 255.0)
    return np.clip(np.round(np.asarray(out) * 255.0), 0, 255).astype(np.uint8)


def denoise(model: nn.Module, noisy: np.ndarray, sigma: float) -> np.ndarray:
    """Run a float FFDNet-style model through the served uint8 wrapper on one HxWx3 image."""
    return run_served(NoiseLevelPixelsGraph(model), noisy, torch.tensor([[float(sigma)]]))


@dataclass(frozen=True)
class DenoiseScore:
    """One method on one noisy crop: RGB PSNR (dB) and SSIM against the clean crop."""

    photo: str
    sigma: float
    method: str
    psnr_db: float
    ssim: float


@dataclass(frozen=True)
class DenoiseReport:
    scores: tuple[DenoiseScore, ...]
    crop: int

    def mean_psnr(self, method: str, sigma: float) -> float:
        return float(np.mean([s.psnr_db for s in self.scores if s.method == method and s.sigma == sigma]))

    def mean_ssim(self, method: str, sigma: float) -> float:
        return float(np.mean([s.ssim for s in self.scores if s.method == method and s.sigma == sigma]))

    @property
    def sigmas(self) -> tuple[float, ...]:
        return tuple(sorted({s.sigma for s in self.scores}))

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(m for m in METHODS if any(s.method == m for s in self.scores))

    def as_dict(self) -> dict[str, object]:
        return {
            "metric": f"RGB PSNR dB / SSIM vs clean, {self.crop}px centre crops, Gaussian noise (uint8, clipped)",
            "mean": {
                f"sigma{s:g}": {
                    m: {"psnr": round(self.mean_psnr(m, s), 2), "ssim": round(self.mean_ssim(m, s), 4)}
                    for m in self.methods
                }
                for s in self.sigmas
            },
            "photos": [
                {
                    "photo": s.photo,
                    "sigma": s.sigma,
                    "method": s.method,
                    "psnr": round(s.psnr_db, 2),
                    "ssim": round(s.ssim, 4),
                }
                for s in self.scores
            ],
        }

    def table(self) -> str:
        """Markdown: one row per sigma, mean PSNR (SSIM) per method."""
        lines = ["| sigma | " + " | ".join(self.methods) + " |", "| --- |" + " --- |" * len(self.methods)]
        for s in self.sigmas:
            cells = [f"{self.mean_psnr(m, s):.2f} ({self.mean_ssim(m, s):.3f})" for m in self.methods]
            lines.append(f"| {s:g} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


def evaluate_denoise(
    model: nn.Module,
    *,
    photos: Sequence[str] | Mapping[str, np.ndarray] = DENOISE_PHOTOS,
    sigmas: Sequence[float] = DENOISE_SIGMAS,
    crop: int = 384,
    seed: int = 0,
    baselines: bool = True,
) -> DenoiseReport:
    """Score `model` (float NCHW + sigma/255 [N,1,1,1], e.g. `FFDNet`) on noisy crops of real photos.

    `photos` are scikit-image names or ready HxWx3 uint8 arrays; each is centre-cropped to `crop`
    (capped at its size; chelsea is 300 px tall). The noise seed is ``seed + index`` over
    (photo, sigma) pairs, so every method sees the same noisy image and reruns agree. With
    `baselines` the noisy input, a radius-1 Gaussian blur and non-local means are scored too.
    """
    named = photos.items() if isinstance(photos, Mapping) else ((n, photo(n)) for n in photos)
    model = model.eval()
    methods: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {"model": lambda x, s: denoise(model, x, s)}
    if baselines:
        methods = {"noisy": lambda x, s: x, "blur": lambda x, s: gaussian_blur(x), "nlm": nl_means, **methods}
    scores = []
    index = 0
    for name, image in named:
        clean = center_crop(np.asarray(image, dtype=np.uint8), crop)
        for sigma in sigmas:
            noisy = add_gaussian_noise(clean, sigma, seed + index)
            index += 1
            for method, run in methods.items():
                out = run(noisy, sigma)
                scores.append(
                    DenoiseScore(
                        photo=name,
                        sigma=float(sigma),
                        method=method,
                        psnr_db=float(peak_signal_noise_ratio(clean, out, data_range=255)),
                        ssim=float(structural_similarity(clean, out, data_range=255, channel_axis=-1)),
                    )
                )
    return DenoiseReport(tuple(scores), crop)
