"""Which colour step keeps kodachrome_60s apart from the other looks on saturated frames? The sweep that chose a
new last step for its recipe on the validation photos. Its choice is the recipe served: a full retrain on it was not
adopted (it moved other pairs), the look refit alone on it was (``lumaflow.build.looks_refit``; docs/quality.md).
The first candidate is the recipe before.

    python -m lumaflow.build.looks_recipe_sweep [--out docs/quality/looks-recipe-sweep-kodachrome-validation.json]

On a frame already near the gamut's edge (a close-up of petals, or any photo made vivid) vivid and kodachrome_60s
both multiplied its colourfulness and clipped to the same corner: 0.79 ΔE apart as graded on chelsea's close-up
made vivid, and the network's one pair under 3 on test. The sweep grades every look on the validation photos, each
as it is, made vivid, and its close-up as it is and made vivid (the frames of `looks distinct --vivid --closeup`,
at the same 128 px), then each candidate form of kodachrome_60s, and measures the candidate's least mean CIEDE2000
to every other look's target on each frame. The criterion, written before the sweep: the greatest least distance
over all frames. Two candidates tied (3.33, both on the same pair and frame); the tie was broken when seen, by the
look's description ("rich reds"): the median colourfulness gain on the photos as they are nearest the recipe
before's. Candidates differ only in the recipe's last step (and one in its green curve); the recipe as it was is
the first.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lumaflow.build.gradings import grade, grade_with
from lumaflow.build.gradings.blocks import (
    Image,
    channel_gamma,
    channel_mix,
    chroma,
    exposure_to,
    grey_world,
    levels,
    s_curve,
    saturation,
    saturation_to,
    split_tone,
)
from lumaflow.build.looks import resize_long_side
from lumaflow.build.looks_eval import DISTINCT_LONG_SIDE, MIN_PAIR
from lumaflow.ensemble.looks import TEMPLATE_NAMES

LOOK = "kodachrome_60s"
FRAME_KINDS = ("vivid", "closeup", "closeup vivid")  # besides each photo as it is
Step = Callable[[Image], Image]


def kodachrome(last: Step, green: float = 1.08) -> Callable[[Image], Image]:
    """kodachrome_60s's recipe with ``last`` as its final colour step (and ``green`` its green channel's gamma)."""

    def graded(x: Image) -> Image:
        x = exposure_to(levels(grey_world(x, 0.5), 0.5, 99.5, 0.7), 0.5, 0.6)
        x = channel_mix(x, ((1.18, -0.09, -0.09), (-0.04, 1.04, 0.0), (-0.02, -0.08, 1.1)))
        x = channel_gamma(s_curve(x, 0.6), (0.92, green, 1.1))
        return last(split_tone(x, (0.06, -0.02, 0.05), (0.09, 0.04, -0.05)))

    return graded


def _density(amount: float) -> Step:
    """Saturation 1.2, then each pixel darkened in proportion to its colourfulness (a dye layer's density)."""

    def step(x: Image) -> Image:
        y = saturation(x, 1.2)
        return y * (1.0 - 2.0 * amount * np.clip(chroma(np.clip(y, 0, 1)), 0, 1)[..., None])

    return step


def _chroma_to(target: float, amount: float) -> Step:
    """The photo's mean chroma pulled toward ``target`` by ``amount`` (`saturation_to`: a factor 0.5-2)."""
    return lambda x: saturation_to(x, target, amount)


CANDIDATES: dict[str, Callable[[Image], Image]] = {
    "saturation 1.2 (the recipe before)": kodachrome(lambda x: saturation(x, 1.2)),
    "saturation 1.2, green gamma 1.15": kodachrome(lambda x: saturation(x, 1.2), green=1.15),
    "saturation 1.2, density 0.2": kodachrome(_density(0.2)),
    "saturation 1.2, density 0.35": kodachrome(_density(0.35)),
    **{
        f"chroma to {target}, by {amount}": kodachrome(_chroma_to(target, amount))
        for target, amount in ((0.12, 1.0), (0.13, 0.9), (0.15, 0.8), (0.15, 1.0), (0.18, 1.0))
    },
}
CHOSEN = "chroma to 0.15, by 1.0"  # the sweep's choice, served (build/gradings/vintage.py), tested


def _lab(photo: np.ndarray) -> torch.Tensor:
    from skimage.color import rgb2lab

    return torch.from_numpy(rgb2lab(photo)).permute(2, 0, 1)


def other_looks(shots: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Every look's target but ``LOOK``'s, in Lab, stacked per frame (what each candidate is measured against)."""
    return {
        frame: torch.stack([_lab(grade(photo, name)) for name in TEMPLATE_NAMES if name != LOOK])
        for frame, photo in shots.items()
    }


def frames(photo_set: str) -> dict[str, np.ndarray]:
    """The set's photos as they are and in each of ``FRAME_KINDS``, at `looks distinct`'s size."""
    from lumaflow.build.photo_sets import load_set
    from lumaflow.build.photo_variants import with_variants

    everything = with_variants(load_set(photo_set), FRAME_KINDS)  # type: ignore[arg-type]
    return {name: resize_long_side(photo, DISTINCT_LONG_SIDE) for name, photo in everything.items()}


def _kind(frame: str) -> str:
    return frame[frame.index("(") + 1 : -1] if "(" in frame else "as it is"


def measure(
    candidate: Callable[[Image], Image], shots: dict[str, np.ndarray], others: dict[str, torch.Tensor]
) -> dict[str, Any]:
    """The candidate's least mean ΔE2000 to each other look's target, per frame kind and overall, and the closest
    pairs; ``others`` is `other_looks` of ``shots``."""
    from lumaflow.build.arch.colour import ciede2000

    rows: list[tuple[float, str, str]] = []
    others_names = [name for name in TEMPLATE_NAMES if name != LOOK]
    for frame, photo in shots.items():
        mine = _lab(grade_with(photo, candidate))[None].expand_as(others[frame])
        distances = ciede2000(mine.contiguous(), others[frame]).mean((1, 2)).tolist()
        rows += [(d, other, frame) for d, other in zip(distances, others_names, strict=True)]
    rows.sort()
    per_kind: dict[str, float] = {}
    for d, _, frame in rows:
        per_kind.setdefault(_kind(frame), round(d, 3))
    gains = [
        float(chroma(grade_with(photo, candidate) / 255.0).mean() / max(float(chroma(photo / 255.0).mean()), 1e-3))
        for frame, photo in shots.items()
        if "(" not in frame
    ]
    return {
        "least": round(rows[0][0], 3),
        "least_per_kind": per_kind,
        "pairs_below": sum(d < MIN_PAIR for d, _, _ in rows),
        "least_to_vivid": round(next(d for d, other, _ in rows if other == "vivid"), 3),
        "closest": [{"look": other, "delta_e": round(d, 3), "frame": frame} for d, other, frame in rows[:5]],
        "median_chroma_gain": round(float(np.median(gains)), 3) if gains else None,  # photos as they are
    }


def choose(results: dict[str, dict[str, Any]]) -> str:
    """The criterion's candidate: the greatest least distance, then the chroma gain nearest the recipe before's."""
    before = next(iter(results.values()))["median_chroma_gain"]
    return max(results, key=lambda name: (results[name]["least"], -abs(results[name]["median_chroma_gain"] - before)))


def sweep(photo_set: str, names: Sequence[str]) -> dict[str, Any]:
    shots = frames(photo_set)
    torch.set_num_threads(2)
    with torch.inference_mode():
        others = other_looks(shots)
        results = {name: measure(CANDIDATES[name], shots, others) for name in names}
    return {
        "look": LOOK,
        "set": photo_set,
        "frames": len(shots),
        "kinds": ["as it is", *FRAME_KINDS],
        "long_side": DISTINCT_LONG_SIDE,
        "criterion": "the greatest least mean CIEDE2000 to any other look's target over all frames",
        "candidates": results,
        "chosen": choose(results),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", default="validation", choices=("train", "validation"))
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    figures = sweep(args.set, list(CANDIDATES))
    print(f"{LOOK} on {figures['frames']} {args.set} frames: least ΔE to any other look's target")
    print(f"{'candidate':40s} {'least':>6s} {'under 3':>8s} {'to vivid':>9s} {'chroma gain':>12s}  closest")
    for name, r in figures["candidates"].items():
        near = r["closest"][0]
        print(
            f"{name:40s} {r['least']:6.2f} {r['pairs_below']:8d} {r['least_to_vivid']:9.2f} "
            f"{r['median_chroma_gain']:12.2f}  {near['look']} ({near['frame']})"
        )
    print(f"chosen: {figures['chosen']}")
    if args.out is not None:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
