"""Choose `lumaflow.runtime.noise_map`'s rule on the validation photos: when ``denoise`` tells FFDNet the noise-map
estimator's level instead of the analysis network's.

    python -m lumaflow.build.noise_map_gates W [W2 ...] [--crops N] [--json out.json]

For each estimator's weights, each validation photo (its 256 px centre crop, and with ``--crops N`` up to N more
crops of 256 px spread over a grid of the whole photo: more cases from the same photos) and each noise of
`lumaflow.build.noise_map_eval` (the camera at three strengths, white σ 15/25/50, clean): the analysis network's σ
and the estimator's level as served (the median over the photo's grid crops), and the PSNR of FFDNet (the served
weights) told each. Then, for every rule "the estimator's level when the analysis reads at least ``seen`` and the
estimator's crops, at their ``quantile``, at least ``ratio`` times the analysis", the mean gain over the analysis
network's σ per noise, and how many cases lose more than ``LOSING_DB`` by it. The rule is chosen by what was fixed
before looking: the highest mean gain over the three camera strengths with no white noise and no clean case losing
more than 0.05 dB on average, nor more than 2 % of its cases (at least one) losing more than ``LOSING_DB``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lumaflow.build.arch.noise_map import NoiseEstimateGraph, NoiseMapEstimator
from lumaflow.build.denoise import center_crop, denoise
from lumaflow.build.noise_map_eval import noisy_versions, rgb_psnr
from lumaflow.build.photo_sets import load_set
from lumaflow.build.train_noise_map import load_ffdnet
from lumaflow.runtime.crops import grid_crops
from lumaflow.runtime.noise_map import NoiseMapReading, read_noise_map

SEEN = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
RATIOS = (1.25, 1.5, 2.0, 2.5, 3.0)
QUANTILES = (0.5, 0.25, 0.1, 0.0)  # of the crops' levels, held against ratio x the analysis σ
MAX_LOSS_DB = 0.05
# A mean can hide many cases' losses behind a few rescues: a rule is allowed only if, for every noise but the
# camera's, at most LOSING_SHARE of its cases (and at least one) lose more than LOSING_DB.
LOSING_DB = 0.5
LOSING_SHARE = 0.02


def estimate_graph(weights: Path) -> NoiseEstimateGraph:
    """The estimator at ``weights`` as the served graph: each crop's mean level."""
    estimator = NoiseMapEstimator()
    estimator.load_state_dict(torch.load(weights, weights_only=True))
    return NoiseEstimateGraph(estimator.eval())


def served_reading(graph: NoiseEstimateGraph, analysis_sigma: float, noisy: np.ndarray) -> NoiseMapReading:
    """The served rule's reading of ``noisy``: the estimator's levels over its grid crops and the analysis σ."""
    return read_noise_map(analysis_sigma, crop_levels(graph, noisy))


def crop_levels(graph: NoiseEstimateGraph, noisy: np.ndarray) -> np.ndarray:
    """The estimator's level for each of the photo's grid crops."""
    return graph(torch.from_numpy(grid_crops(noisy))).numpy().reshape(-1)


def photo_crops(photo: np.ndarray, side: int, grid: int) -> list[np.ndarray]:
    """The centre crop, then up to ``grid`` crops of ``side`` px spread evenly over the photo's grid of
    non-overlapping cells other than the centre crop's own (none if the photo has no other whole cell)."""
    height, width = photo.shape[:2]
    centre = ((height - side) // 2, (width - side) // 2)  # where `center_crop` cuts: not counted twice
    cells = [(y, x) for y in range(0, height - side + 1, side) for x in range(0, width - side + 1, side)]
    cells = [cell for cell in cells if cell != centre]
    picked = sorted({int(i) for i in np.linspace(0, len(cells) - 1, min(grid, len(cells))).round()}) if grid else []
    spread = [np.ascontiguousarray(photo[y : y + side, x : x + side]) for y, x in (cells[i] for i in picked)]
    return [center_crop(photo, side), *spread]


@torch.inference_mode()
def readings(weights: list[Path], photos: dict[str, np.ndarray], crop: int, grid: int = 0) -> dict[str, Any]:
    """Per noise, per case (a photo, or a photo's crop): (σ, PSNR) for ``analysis`` and each estimator's level."""
    from lumaflow.build.offline import OfflineServer

    ffdnet, server = load_ffdnet(), OfflineServer()
    graphs = {str(path): estimate_graph(path) for path in weights}
    out: dict[str, Any] = {}
    for case, noise, noisy, reference in noisy_cases(photos, crop, grid):
        sigma = server.analysis(noisy)["noise_sigma"]
        row: dict[str, Any] = {"analysis": (sigma, rgb_psnr(denoise(ffdnet, noisy, sigma), reference))}
        row["crop_levels"] = {}
        for key, graph in graphs.items():
            levels = crop_levels(graph, noisy)
            level = read_noise_map(sigma, levels).level
            row[key] = (level, rgb_psnr(denoise(ffdnet, noisy, level), reference))
            row["crop_levels"][key] = [round(float(v), 3) for v in levels]
        out.setdefault(noise, {})[case] = row
    return out


def noisy_cases(
    photos: dict[str, np.ndarray], crop: int, grid: int
) -> Iterator[tuple[str, str, np.ndarray, np.ndarray]]:
    """(case, noise, noisy, reference) for each photo's crops (`photo_crops`) and each noise of `noisy_versions`:
    a case is the photo's name for its centre crop, "name/number" for its grid crops, each seeded by the photo's
    index and the crop's number, so every command that reads the sweep's JSON can remake the same noisy crops."""
    for index, (name, photo) in enumerate(photos.items()):
        for number, window in enumerate(photo_crops(photo, crop, grid)):
            case = f"{name}/{number}" if number else name  # the centre crop, seeded as before ``--crops``
            for noise, (noisy, reference) in noisy_versions(window, index + 100 * number).items():
                yield case, noise, noisy, reference


def _uses(row: dict[str, Any], key: str, rule: tuple[float, float, float]) -> bool:
    """Whether the served rule, at these thresholds (seen, ratio, quantile), tells FFDNet the estimator's level."""
    seen, ratio, quantile = rule
    levels = np.array(row["crop_levels"][key])
    return read_noise_map(row["analysis"][0], levels, seen=seen, ratio=ratio, quantile=quantile).used


def sweep(per_noise: dict[str, Any], key: str, also: Callable[[str, str], bool] | None = None) -> list[dict[str, Any]]:
    """Each rule's mean gain over the analysis network's σ per noise, and whether the selection rule allows it.
    ``also`` (noise, case) is one more condition a case must meet for the estimator's level to be told (for trying a
    second opinion: `lumaflow.build.noise_map_second_opinion`)."""
    rules, cases = [], len(next(iter(per_noise.values())))  # every noise has the same cases
    for quantile in QUANTILES:
        for seen in SEEN:
            for ratio in RATIOS:
                gains, losing = {}, {}
                for noise, photos in per_noise.items():
                    g = [
                        row[key][1] - row["analysis"][1]
                        if _uses(row, key, (seen, ratio, quantile)) and (also is None or also(noise, case))
                        else 0.0
                        for case, row in photos.items()
                    ]
                    gains[noise] = round(float(np.mean(g)), 3)
                    losing[noise] = sum(gain < -LOSING_DB for gain in g)
                rules.append(judge_rule(seen, ratio, quantile, gains, losing, cases))
    return rules


def judge_rule(
    seen: float, ratio: float, quantile: float, gains: dict[str, float], losing: dict[str, int], cases: int
) -> dict[str, Any]:
    """One rule's figures and whether the criterion allows it: no noise but the camera's losing more than
    ``MAX_LOSS_DB`` on average, or in more than ``LOSING_SHARE`` of its cases (at least one) more than ``LOSING_DB``."""
    camera = float(np.mean([v for k, v in gains.items() if k.startswith("camera")]))
    most_losing = max(1, int(LOSING_SHARE * cases))
    allowed = all(gains[k] >= -MAX_LOSS_DB and losing[k] <= most_losing for k in gains if not k.startswith("camera"))
    rule = {"seen": seen, "ratio": ratio, "quantile": quantile, "gains": gains, "losing": losing}
    return {**rule, "camera_mean": round(camera, 3), "allowed": allowed}


def preference(rule: dict[str, Any]) -> tuple[float, bool, float, float]:
    """The criterion's order among allowed rules: the highest camera mean; on a tie the median's quantile (the served
    form), then larger thresholds. `noise_map_second_opinion` ranks by it too."""
    return rule["camera_mean"], rule["quantile"] == 0.5, rule["seen"], rule["ratio"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="noise_map_gates", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("weights", type=Path, nargs="+")
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--crops", type=int, default=0, help="grid crops per photo beside its centre crop")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    per_noise = readings(args.weights, load_set("validation"), args.crop, args.crops)
    cases = len(next(iter(per_noise.values())))
    report: dict[str, Any] = {"set": "validation", "crop": args.crop, "crops": args.crops, "cases": cases}
    report["estimators"] = {}
    for path in args.weights:
        rules = sweep(per_noise, str(path))
        best = max((r for r in rules if r["allowed"]), key=preference)
        chosen = {name: best[name] for name in ("seen", "ratio", "quantile")}
        report["estimators"][str(path)] = {"rules": rules, "chosen": chosen}
        print(f"{path}: {cases} cases, noises {list(per_noise)}")
        for rule in rules:
            mark = " <- chosen" if rule is best else ("" if rule["allowed"] else " (loses on white noise or clean)")
            cells = " ".join(f"{v:+.2f} ({rule['losing'][k]} lose)" for k, v in rule["gains"].items())
            print(f"  q {rule['quantile']:g}, seen >= {rule['seen']:g}, ratio >= {rule['ratio']:g}: {cells}{mark}")
    if args.json:
        args.json.write_text(json.dumps({**report, "per_photo": per_noise}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
