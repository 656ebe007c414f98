"""Would a texture-aware second opinion let `lumaflow.runtime.noise_map`'s rule tell FFDNet the learned level more
often? Tried on the validation photos, not adopted (docs/quality.md, "A texture-aware second opinion").

    python -m lumaflow.build.noise_map_second_opinion [--gates G] [--views V ...] [--json out.json]

Reads `lumaflow.build.noise_map_gates`' JSON (its cases, the analysis network's σ, the estimator's crop levels and
FFDNet's PSNR told either, so no denoising is rerun), recreates each case's noisy crop with the same seeds, and reads
it with Liu, Tanaka and Okutomi's weak-texture estimator (`lumaflow.build.weak_texture`) in each view. Then it sweeps
the served rule's grid with one more condition, the weak-texture σ at least ``t``, and picks by `noise_map_gates`'
own criterion (a smaller ``t`` on a tie). ``t`` = 0 is the rule without the second opinion. The bar for adopting,
fixed before the first run: a ``t`` above 0 chosen, and the camera mean at least ``ADOPT_OVER_DB`` above ``t`` = 0's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from lumaflow.build.noise_map_gates import noisy_cases, preference
from lumaflow.build.noise_map_gates import sweep as gates_sweep
from lumaflow.build.photo_sets import load_set
from lumaflow.build.weak_texture import VIEWS, view_level
from lumaflow.runtime.crops import grid_crops

GATES = Path("docs/quality/noise-map-gates-validation-crops.json")
THRESHOLDS = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0)
ADOPT_OVER_DB = 0.05


def second_opinions(gates: dict[str, Any], views: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """Per view, per noise, per case: the weak-texture σ of the case's noisy crop over its grid crops."""
    out: dict[str, dict[str, dict[str, float]]] = {view: {} for view in views}
    photos = load_set(gates["set"])
    for case, noise, noisy, _ in noisy_cases(photos, gates["crop"], gates["crops"]):
        crops = grid_crops(noisy)
        for view in views:
            out[view].setdefault(noise, {})[case] = round(view_level(crops, view), 4)
        if noise == "clean" and "/" not in case:
            print(f"  {case}", flush=True)  # a photo's centre crop read (its grid crops follow)
    return out


def sweep(per_noise: dict[str, Any], key: str, opinion: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """`noise_map_gates`' sweep at each threshold ``t`` of the second opinion, each rule tagged with its ``t``."""
    return [
        {**rule, "t": t}
        for t in THRESHOLDS
        for rule in gates_sweep(per_noise, key, lambda noise, case, t=t: opinion[noise][case] >= t)
    ]


def choose(rules: list[dict[str, Any]], t: float | None = None) -> dict[str, Any]:
    """The criterion's choice among the allowed rules (at threshold ``t`` only, if given)."""
    allowed = [r for r in rules if r["allowed"] and (t is None or r["t"] == t)]
    return max(allowed, key=lambda r: (*preference(r), -r["t"]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="noise_map_second_opinion", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--gates", type=Path, default=GATES, help="noise_map_gates' JSON")
    p.add_argument("--views", nargs="+", choices=sorted(VIEWS), default=sorted(VIEWS))
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    gates = json.loads(args.gates.read_text())
    per_noise = gates["per_photo"]
    (key,) = gates["estimators"]
    opinions = second_opinions(gates, args.views)
    report: dict[str, Any] = {"gates": str(args.gates), "cases": gates["cases"], "views": {}}
    for view in args.views:
        rules = sweep(per_noise, key, opinions[view])
        best, without = choose(rules), choose(rules, 0.0)
        adopted = best["t"] > 0 and best["camera_mean"] >= without["camera_mean"] + ADOPT_OVER_DB
        medians = {noise: round(float(np.median(list(v.values()))), 2) for noise, v in opinions[view].items()}
        by_t = [choose(rules, t) for t in THRESHOLDS]
        report["views"][view] = {"chosen": best, "adopted": adopted, "best_at_each_t": by_t, "medians": medians}
        print(f"{view}: weak-texture σ medians {medians}")
        for rule in by_t:
            print(
                f"  t {rule['t']:g}: q {rule['quantile']:g}, seen {rule['seen']:g}, ratio {rule['ratio']:g}, "
                f"camera mean {rule['camera_mean']:+.3f}, gains {rule['gains']}"
            )
        print(f"  chosen t {best['t']:g}; adopted: {adopted}")
    if args.json:
        args.json.write_text(json.dumps({**report, "per_case": opinions}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
