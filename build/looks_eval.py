"""How well the looks network renders each look, and how distinct the looks are, on a photo set.

    python -m lumaflow.build.assess looks --set test --out docs/quality/looks-test.json   # per-look table
    python -m lumaflow.build.looks distinct --set test     # every pair of looks, the network's output

Each photo is graded as a whole photo at ``EVAL_LONG_SIDE`` px on its long side: the gradings and the network
work per pixel after reading whole-photo statistics, so mean ΔE barely depends on the size, and 24 photos x 62
looks x 3 methods stay within minutes on two cores.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from lumaflow.build.arch.lut import LookNet
from lumaflow.build.assess import Report
from lumaflow.build.benchmark_report import bootstrap_interval
from lumaflow.build.gradings import grade
from lumaflow.build.looks import delta_e, fixed_lut, resize_long_side, stylize
from lumaflow.build.photos import eval_photos
from lumaflow.build.registry import ModelDescriptor
from lumaflow.ensemble.looks import TEMPLATE_NAMES

EVAL_LONG_SIDE = 256
DISTINCT_LONG_SIDE = 128  # 1 891 pairs a photo: ΔE on 128 px photos keeps the check to about a minute a set
METHODS = ("model", "fixed_lut", "identity")
MIN_GAIN = 0.5  # the network should beat the fixed LUT by this much mean ΔE (issue 30)
MIN_PAIR = 3.0  # every pair of looks should differ by this much mean ΔE on every photo (issue 30)


def evaluate_looks(descriptor: ModelDescriptor, photos: dict[str, np.ndarray] | None = None) -> Report:
    """Mean ΔE2000 to each look's grading: the network, one fixed LUT per look, the ungraded photo; the
    network's gain over the fixed LUT per look with its 95 % bootstrap interval over photos."""
    with _one_thread():
        return _evaluate(_looknet(descriptor), eval_photos() if photos is None else photos)


@contextmanager
def _one_thread() -> Iterator[None]:
    """torch on one thread for the duration. Small photos gain nothing from a second thread, and on a busy
    machine its barrier waits made this evaluation six times slower (48 s against 8 s with one thread,
    measured beside two trainings)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _looknet(descriptor: ModelDescriptor) -> LookNet:
    if not isinstance(descriptor.model, LookNet):
        raise TypeError("the looks evaluation needs a LookNet")
    return descriptor.model


def _evaluate(model: LookNet, originals: dict[str, np.ndarray]) -> Report:
    photos = {name: resize_long_side(image, EVAL_LONG_SIDE) for name, image in originals.items()}
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
    per_look: dict[str, dict[str, Any]] = {}
    for name, by_method in scores.items():
        gains = np.subtract(by_method["fixed_lut"], by_method["model"])
        per_look[name] = {m: round(float(np.mean(v)), 3) for m, v in by_method.items()}
        per_look[name]["gain"] = round(float(gains.mean()), 3)
        per_look[name]["gain_interval"] = [round(v, 3) for v in bootstrap_interval(gains.tolist())]
    overall = {m: round(float(np.mean([per_look[n][m] for n in TEMPLATE_NAMES])), 3) for m in (*METHODS, "gain")}
    short = [name for name in TEMPLATE_NAMES if per_look[name]["gain"] < MIN_GAIN]
    figures: dict[str, Any] = {
        "metric": "mean CIEDE2000 to the look's grading, lower is better; gain = fixed_lut - model, per photo",
        "long_side": EVAL_LONG_SIDE,
        "photos": list(photos),
        "looks": per_look,
        "mean": overall,
        "looks_gaining_at_least": {"gain": MIN_GAIN, "share": round(1 - len(short) / len(TEMPLATE_NAMES), 3)},
        "looks_gaining_less": short,
    }
    return Report(figures, markdown_table(per_look, overall, len(photos)))


def markdown_table(per_look: dict[str, dict[str, Any]], overall: dict[str, float], photos: int) -> list[str]:
    """The per-look table docs/quality.md shows (``python -m lumaflow.build.assess looks`` prints it)."""
    lines = [
        f"| look | network | fixed LUT | ungraded | gain over the fixed LUT (95 % interval, {photos} photos) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, s in per_look.items():
        low, high = s["gain_interval"]
        figures = f"{s['model']:.2f} | {s['fixed_lut']:.2f} | {s['identity']:.2f}"
        lines.append(f"| {name} | {figures} | {s['gain']:.2f} [{low:.2f}, {high:.2f}] |")
    o = overall
    lines.append(f"| **mean** | **{o['model']:.2f}** | {o['fixed_lut']:.2f} | {o['identity']:.2f} | {o['gain']:.2f} |")
    share = sum(s["gain"] >= MIN_GAIN for s in per_look.values())
    lines.append(f"\n{share} of {len(per_look)} looks gain at least {MIN_GAIN} ΔE over their fixed LUT.")
    return lines


def pairwise_distances(model: LookNet | None, photos: dict[str, np.ndarray]) -> dict[str, Any]:
    """The least mean ΔE2000 between every pair of looks over ``photos``, and where: the network's outputs, or
    with ``model`` None the target gradings themselves (what the recipes were pushed apart on). The CIEDE2000 is
    the torch one (``lumaflow.build.arch.colour``, scikit-image's to 1e-6), all pairs of a look at once."""
    from skimage.color import rgb2lab

    from lumaflow.build.arch.colour import ciede2000

    least: dict[tuple[str, str], tuple[float, str]] = {}
    with _one_thread(), torch.inference_mode():
        for photo_name, image in photos.items():
            small = resize_long_side(image, DISTINCT_LONG_SIDE)
            labs = torch.from_numpy(
                np.stack(
                    [
                        rgb2lab(grade(small, name) if model is None else stylize(model, small, index))
                        for index, name in enumerate(TEMPLATE_NAMES)
                    ]
                )
            ).permute(0, 3, 1, 2)
            for i in range(len(TEMPLATE_NAMES) - 1):
                others = labs[i + 1 :]
                distances = ciede2000(labs[i : i + 1].expand_as(others), others).mean((1, 2)).tolist()
                for j, d in enumerate(distances, start=i + 1):
                    pair = (TEMPLATE_NAMES[i], TEMPLATE_NAMES[j])
                    if pair not in least or d < least[pair][0]:
                        least[pair] = (d, photo_name)
    ranked = sorted(least.items(), key=lambda item: item[1][0])
    below = [pair for pair, (d, _) in ranked if d < MIN_PAIR]
    return {
        "metric": "least mean CIEDE2000 between two looks' outputs over the photos",
        "outputs": "the target gradings" if model is None else "the network",
        "long_side": DISTINCT_LONG_SIDE,
        "photos": list(photos),
        "looks": len(TEMPLATE_NAMES),
        "pairs": len(ranked),
        "pairs_below": {"delta_e": MIN_PAIR, "count": len(below)},
        # the 20 closest, or every pair under MIN_PAIR where more are: a recipe redesign needs them all
        "closest": [
            {"looks": list(pair), "delta_e": round(d, 3), "photo": where}
            for pair, (d, where) in ranked[: max(20, len(below))]
        ],
        "crowded": crowded_looks(below),
    }


def crowded_looks(pairs: Sequence[tuple[str, str]]) -> dict[str, int]:
    """How many of ``pairs`` (those under MIN_PAIR) each look is in, most first: where pairs under 3 share a look,
    that look's recipe is the one to change first."""
    counts = Counter(look for pair in pairs for look in pair)
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
