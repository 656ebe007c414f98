"""Held-out evaluation of the assessors, on the benchmark photos, through the served crops and graphs.

Analysis: each photo degraded at fixed levels of one kind at a time (fixed seeds); the error of
the photo-level estimate, beside the classical noise estimator it replaces. Quality: Spearman
rank correlation between the score and the known severity of a degradation, per kind, pooled over
photos (a score must mean the same on every photo) and per photo, beside BRISQUE (lower BRISQUE is
better, so its negation is ranked).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from lumaflow.build import WEIGHTS_DIR, degrade
from lumaflow.build.arch.assessor import AnalysisGraph, QualityGraph
from lumaflow.build.noise import estimate_noise_sigma
from lumaflow.build.photos import benchmark_photos
from lumaflow.build.registry import ModelDescriptor
from lumaflow.contract import ANALYSIS_SCALES
from lumaflow.runtime.crops import exposure_class, grid_crops, summarise_analysis, tone

NOISE_SIGMAS = (0, 5, 10, 15, 20, 25, 30, 40, 50)
JPEG_QUALITIES = (10, 20, 30, 40, 50, 60, 70, 80, 90)
BLUR_SIGMAS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
EXPOSURES_EV = (-2.5, -1.5, 0.0, 1.0)


def analyse(graph: AnalysisGraph, pixels: np.ndarray) -> dict[str, float]:
    with torch.inference_mode():
        rows = graph(torch.from_numpy(grid_crops(pixels))).numpy()
    return summarise_analysis(rows)


def quality_of(graph: QualityGraph, pixels: np.ndarray) -> float:
    """The photo's score from its grid of crops, scored together (one photo of K crops)."""
    with torch.inference_mode():
        return float(graph(torch.from_numpy(grid_crops(pixels))[None])[0, 0])


def method_means(
    scores: dict[str, list[tuple[float, float]]], names: tuple[str, str], digits: tuple[int, int]
) -> dict[str, dict[str, float]]:
    """Per method, the mean over the photos of each of its two figures (e.g. PSNR and SSIM), rounded to ``digits``."""
    return {
        method: {
            name: round(float(np.mean([pair[index] for pair in pairs])), digit)
            for index, (name, digit) in enumerate(zip(names, digits, strict=True))
        }
        for method, pairs in scores.items()
    }


@dataclass
class Report:
    """Named figures and the lines that print them (what the manifest and the training log show)."""

    figures: dict[str, Any] = field(default_factory=dict)
    text: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return dict(self.figures)

    def lines(self) -> list[str]:
        return list(self.text)


def _rng(photo_index: int, level_index: int) -> np.random.Generator:
    return np.random.default_rng(5000 + 100 * photo_index + level_index)


def evaluate_analysis(descriptor: ModelDescriptor, photos: dict[str, np.ndarray] | None = None) -> Report:
    """The analysis network on `photos` (default: the earlier benchmark's eight, now validation photos)."""
    graph = AnalysisGraph(descriptor.model, ANALYSIS_SCALES).eval()  # type: ignore[arg-type]
    photos = benchmark_photos() if photos is None else photos
    sigma_err, classical_err, quality_err, blur_err = [], [], [], []
    exposure_hits, tone_hits = [], []
    for p, clean in enumerate(photos.values()):
        for i, sigma in enumerate(NOISE_SIGMAS):
            noisy = degrade.gaussian_noise(clean, sigma, _rng(p, i))
            sigma_err.append(abs(analyse(graph, noisy)["noise_sigma"] - sigma))
            classical_err.append(abs(estimate_noise_sigma(noisy) - sigma))
        for q in JPEG_QUALITIES:
            quality_err.append(abs(analyse(graph, degrade.jpeg(clean, q))["jpeg_quality"] - q))
        for b in BLUR_SIGMAS:
            blur_err.append(abs(analyse(graph, degrade.gaussian_blur(clean, b))["blur_sigma"] - b))
        for ev in EXPOSURES_EV:
            exposed = degrade.exposure(clean, ev) if ev else clean
            exposure_hits.append(exposure_class(analyse(graph, exposed)["exposure_ev"]) == exposure_class(ev))
        for name, toned in (("colour", clean), ("grey", degrade.grey(clean)), ("sepia", degrade.sepia(clean, 0.8))):
            tone_hits.append(tone(analyse(graph, toned)) == name)
    quality_err_arr = np.array(quality_err)
    figures = {
        "photos": list(photos),
        "noise_sigma_mae": round(float(np.mean(sigma_err)), 2),
        "noise_sigma_mae_classical": round(float(np.mean(classical_err)), 2),
        "noise_sigmas": list(NOISE_SIGMAS),
        "jpeg_quality_mae": round(float(quality_err_arr.mean()), 2),
        "jpeg_quality_within_10": round(float((quality_err_arr <= 10).mean()), 3),
        "jpeg_qualities": list(JPEG_QUALITIES),
        "blur_sigma_mae": round(float(np.mean(blur_err)), 3),
        "blur_sigmas": list(BLUR_SIGMAS),
        "exposure_accuracy": round(float(np.mean(exposure_hits)), 3),
        "exposures_ev": list(EXPOSURES_EV),
        "tone_accuracy": round(float(np.mean(tone_hits)), 3),
    }
    text = [
        f"noise σ MAE {figures['noise_sigma_mae']} (classical estimator"
        f" {figures['noise_sigma_mae_classical']}) on σ {NOISE_SIGMAS}",
        f"JPEG quality MAE {figures['jpeg_quality_mae']}, within 10: {figures['jpeg_quality_within_10']:.0%}",
        f"blur σ MAE {figures['blur_sigma_mae']} px; exposure accuracy {figures['exposure_accuracy']:.0%};"
        f" tone accuracy {figures['tone_accuracy']:.0%}",
    ]
    return Report(figures, text)


# Severity ladders for the quality evaluation: level 0 is the clean photo.
Degradation = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _noise(sigma: float) -> Degradation:
    return lambda image, rng: degrade.gaussian_noise(image, sigma, rng)


def _jpeg(quality: int) -> Degradation:
    return lambda image, _rng: degrade.jpeg(image, quality)


def _blur(sigma: float) -> Degradation:
    return lambda image, _rng: degrade.gaussian_blur(image, sigma)


SEVERITIES: dict[str, tuple[Degradation, ...]] = {
    "noise": tuple(_noise(s) for s in (3.0, 8.0, 15.0, 25.0, 40.0)),
    "jpeg": tuple(_jpeg(q) for q in (80, 50, 30, 15, 5)),
    "blur": tuple(_blur(b) for b in (0.6, 1.0, 1.6, 2.5, 4.0)),
}


def _spearman(scores: list[float], severities: list[int]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(scores, [-s for s in severities]).statistic)


def brisque_scorer() -> Callable[[np.ndarray], float]:
    """BRISQUE (the ``brisque`` package, OpenCV inside), negated so that higher is better like ours."""
    from brisque import BRISQUE

    model = BRISQUE(url=False)
    return lambda pixels: -float(model.score(pixels))


def evaluate_quality(descriptor: ModelDescriptor, photos: dict[str, np.ndarray] | None = None) -> Report:
    """The quality score's rank correlation with known severity on `photos` (default: the earlier benchmark's)."""
    graph = QualityGraph(descriptor.model).eval()  # type: ignore[arg-type]
    photos = benchmark_photos() if photos is None else photos
    scorers: dict[str, Callable[[np.ndarray], float]] = {"ours": lambda pixels: quality_of(graph, pixels)}
    with contextlib.suppress(ImportError):  # the baseline is optional for a smoke run; absent from the report
        scorers["brisque"] = brisque_scorer()
    figures: dict[str, Any] = {"photos": list(photos), "metric": "Spearman rho of score vs severity (0 = clean)"}
    text = []
    for kind, ladder in SEVERITIES.items():
        rows: dict[str, list[tuple[int, int, float]]] = {name: [] for name in scorers}
        for p, clean in enumerate(photos.values()):
            images = [clean, *(step(clean, _rng(p, level)) for level, step in enumerate(ladder, start=1))]
            for level, image in enumerate(images):
                for name, scorer in scorers.items():
                    rows[name].append((p, level, scorer(image)))
        figures[kind] = {}
        for name, triples in rows.items():
            pooled = _spearman([s for _, _, s in triples], [lv for _, lv, _ in triples])
            per_photo = [
                _spearman([s for q, _, s in triples if q == p], [lv for q, lv, _ in triples if q == p])
                for p in range(len(photos))
            ]
            figures[kind][name] = {"pooled": round(pooled, 3), "per_photo_mean": round(float(np.mean(per_photo)), 3)}
            text.append(f"{kind:6s} {name:8s} rho pooled {pooled:+.3f}  per photo {np.mean(per_photo):+.3f}")
    for name in scorers:
        figures[f"mean_pooled_{name}"] = round(float(np.mean([figures[k][name]["pooled"] for k in SEVERITIES])), 3)
    text.append("mean pooled rho: " + ", ".join(f"{n} {figures[f'mean_pooled_{n}']:+.3f}" for n in scorers))
    return Report(figures, text)


FIT_EXPOSURES_EV = (-3.0, -2.5, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0)


def _uncalibrated_exposures(
    graph: AnalysisGraph, photos: dict[str, np.ndarray], exposures: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """The photo-level mean per-crop exposure before the served line, and the true EV, per photo and exposure."""
    from lumaflow.runtime.crops import EXPOSURE_OFFSET, EXPOSURE_SLOPE

    raw, truth = [], []
    for clean in photos.values():
        for ev in exposures:
            calibrated = analyse(graph, degrade.exposure(clean, ev) if ev else clean)["exposure_ev"]
            raw.append((calibrated - EXPOSURE_OFFSET) / EXPOSURE_SLOPE)
            truth.append(ev)
    return np.array(raw), np.array(truth)


def fit_exposure_line(
    descriptor: ModelDescriptor, train: dict[str, np.ndarray], validation: dict[str, np.ndarray]
) -> Report:
    """The line that stretches the photo's mean per-crop exposure back to EV: least squares of the true EV on the
    uncalibrated mean over the training photos at -3..+1 EV; then, on the validation photos at the analysis
    evaluation's exposures, how often the refit and the served line (`runtime.crops.EXPOSURE_SLOPE`, `_OFFSET`)
    call under / normal / over right."""
    from lumaflow.runtime.crops import EXPOSURE_OFFSET, EXPOSURE_SLOPE

    graph = AnalysisGraph(descriptor.model, ANALYSIS_SCALES).eval()  # type: ignore[arg-type]
    raw, truth = _uncalibrated_exposures(graph, train, FIT_EXPOSURES_EV)
    slope, offset = (float(v) for v in np.polyfit(raw, truth, 1))
    raw_val, truth_val = _uncalibrated_exposures(graph, validation, EXPOSURES_EV)
    lines = {"refit": (slope, offset), "served": (EXPOSURE_SLOPE, EXPOSURE_OFFSET)}
    accuracy = {
        name: round(
            float(
                np.mean(
                    [exposure_class(a * r + b) == exposure_class(t) for r, t in zip(raw_val, truth_val, strict=True)]
                )
            ),
            3,
        )
        for name, (a, b) in lines.items()
    }
    figures = {
        "train_photos": list(train),
        "validation_photos": list(validation),
        "slope": round(slope, 3),
        "offset": round(offset, 3),
        "served": {"slope": EXPOSURE_SLOPE, "offset": EXPOSURE_OFFSET},
        "validation_exposure_accuracy": accuracy,
    }
    text = [
        f"refit on {len(train)} training photos: ev = {slope:.3f} x mean + {offset:+.3f}; served: ev = "
        f"{EXPOSURE_SLOPE} x mean + {EXPOSURE_OFFSET}",
        f"under/normal/over right on {len(validation)} validation photos x {len(EXPOSURES_EV)} exposures: "
        f"refit {accuracy['refit']:.1%}, served {accuracy['served']:.1%}",
    ]
    return Report(figures, text)


def _evaluator(network: str) -> Callable[[ModelDescriptor, dict[str, np.ndarray]], Report]:
    """The held-out evaluation a network's recipe runs after training, taking the photos to run on."""
    if network == "inpaint":
        from lumaflow.build.inpaint_data import evaluate_inpaint

        return evaluate_inpaint  # type: ignore[return-value]
    if network == "colorize":
        from lumaflow.build.colorize_data import evaluate_colorize

        return evaluate_colorize  # type: ignore[return-value]
    if network == "damage":
        from lumaflow.build.damage_data import evaluate_damage

        return evaluate_damage  # type: ignore[return-value]
    if network == "looks":
        from lumaflow.build.looks_eval import evaluate_looks

        return evaluate_looks  # type: ignore[return-value]
    return evaluate_quality if network == "quality" else evaluate_analysis


def main(argv: list[str] | None = None) -> int:
    """``python -m lumaflow.build.assess NETWORK --set SET --out FILE``: the committed network's (or
    ``--weights``: a training run's) figures on a photo set (`lumaflow.build.photo_sets`), printed and written as
    JSON. The exposure line is fitted on the training photos and judged on the validation photos."""
    import argparse
    import json
    from pathlib import Path

    from lumaflow.build.arch.lut import LookNet
    from lumaflow.build.looks import add_separation_options, push_apart_from, separate
    from lumaflow.build.photo_sets import SETS, load_set
    from lumaflow.build.registry import load_file

    parser = argparse.ArgumentParser(prog="python -m lumaflow.build.assess")
    networks = ("quality", "analysis", "exposure-line", "inpaint", "colorize", "looks", "damage")
    parser.add_argument("network", choices=networks)
    parser.add_argument("--set", dest="photo_set", choices=SETS, default="validation")
    parser.add_argument("--out", help="write the figures as JSON here")
    parser.add_argument("--weights", type=Path, help="a training run's weights file instead of the committed one")
    add_separation_options(parser)  # the looks network's push apart; other networks ignore it
    args = parser.parse_args(argv)
    weights_name = {"exposure-line": "analysis"}.get(args.network, args.network)
    weights = args.weights or WEIGHTS_DIR / f"{weights_name}.pt"
    descriptor = load_file(str(weights))
    looknet = descriptor.model if isinstance(descriptor.model, LookNet) else None
    if looknet is not None:
        separate(looknet, push_apart_from(args))
    if args.network == "exposure-line":  # fitted on train, judged on validation, whatever --set says
        report = fit_exposure_line(descriptor, load_set("train"), load_set("validation"))
    else:
        report = _evaluator(args.network)(descriptor, load_set(args.photo_set))
    print("\n".join(report.lines()))
    if args.out:
        extra = {} if looknet is None else {"separation": looknet.push_apart.figures()}
        Path(args.out).write_text(json.dumps({"set": args.photo_set, **extra, **report.as_dict()}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
