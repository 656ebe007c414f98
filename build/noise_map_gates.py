"""Choose `lumaflow.runtime.noise_map`'s rule on the validation photos: when ``denoise`` tells FFDNet the noise-map
estimator's level instead of the analysis network's.

    python -m lumaflow.build.noise_map_gates W [W2 ...] [--json docs/quality/noise-map-gates-validation.json]

For each estimator's weights, each validation photo (256 px centre crop) and each noise of
`lumaflow.build.noise_map_eval` (the camera at three strengths, white σ 15/25/50, clean): the analysis network's σ
and the estimator's level as served (the median over the photo's grid crops), and the PSNR of FFDNet (the served
weights) told each. Then, for every rule "the estimator's level when the analysis reads at least ``seen`` and the
estimator at least ``ratio`` times the analysis", the mean gain over the analysis network's σ per noise. The rule
is chosen by what was fixed before looking: the highest mean gain over the three camera strengths with no white
noise and no clean photo losing more than 0.05 dB on average.
"""

from __future__ import annotations

import argparse
import json
import sys
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

SEEN = (0.0, 0.5, 1.0, 1.5, 2.0)
RATIOS = (1.5, 2.0, 2.5, 3.0)
MAX_LOSS_DB = 0.05


def estimate_graph(weights: Path) -> NoiseEstimateGraph:
    """The estimator at ``weights`` as the served graph: each crop's mean level."""
    estimator = NoiseMapEstimator()
    estimator.load_state_dict(torch.load(weights, weights_only=True))
    return NoiseEstimateGraph(estimator.eval())


def served_reading(graph: NoiseEstimateGraph, analysis_sigma: float, noisy: np.ndarray) -> NoiseMapReading:
    """The served rule's reading of ``noisy``: the estimator's levels over its grid crops and the analysis σ."""
    return read_noise_map(analysis_sigma, graph(torch.from_numpy(grid_crops(noisy))).numpy())


@torch.inference_mode()
def readings(weights: list[Path], photos: dict[str, np.ndarray], crop: int) -> dict[str, Any]:
    """Per noise, per photo: (σ, PSNR) for ``analysis`` and for each estimator's served level."""
    from lumaflow.build.offline import OfflineServer

    ffdnet, server = load_ffdnet(), OfflineServer()
    graphs = {str(path): estimate_graph(path) for path in weights}
    out: dict[str, Any] = {}
    for index, (name, photo) in enumerate(photos.items()):
        for noise, (noisy, reference) in noisy_versions(center_crop(photo, crop), index).items():
            sigma = server.analysis(noisy)["noise_sigma"]
            row = {"analysis": (sigma, rgb_psnr(denoise(ffdnet, noisy, sigma), reference))}
            for key, graph in graphs.items():
                level = served_reading(graph, sigma, noisy).level
                row[key] = (level, rgb_psnr(denoise(ffdnet, noisy, level), reference))
            out.setdefault(noise, {})[name] = row
    return out


def _uses(row: dict[str, Any], key: str, seen: float, ratio: float) -> bool:
    """Whether the served rule, at these thresholds, tells FFDNet the estimator's level for this photo."""
    return read_noise_map(row["analysis"][0], np.array([row[key][0]]), seen=seen, ratio=ratio).used


def sweep(per_noise: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """Each rule's mean gain over the analysis network's σ per noise, and whether the selection rule allows it."""
    rules = []
    for seen in SEEN:
        for ratio in RATIOS:
            gains = {}
            for noise, photos in per_noise.items():
                g = [
                    row[key][1] - row["analysis"][1] if _uses(row, key, seen, ratio) else 0.0 for row in photos.values()
                ]
                gains[noise] = round(float(np.mean(g)), 3)
            camera = float(np.mean([v for k, v in gains.items() if k.startswith("camera")]))
            allowed = all(v >= -MAX_LOSS_DB for k, v in gains.items() if not k.startswith("camera"))
            rules.append(
                {"seen": seen, "ratio": ratio, "gains": gains, "camera_mean": round(camera, 3), "allowed": allowed}
            )
    return rules


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="noise_map_gates", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("weights", type=Path, nargs="+")
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    per_noise = readings(args.weights, load_set("validation"), args.crop)
    report: dict[str, Any] = {"set": "validation", "crop": args.crop, "estimators": {}}
    for path in args.weights:
        rules = sweep(per_noise, str(path))
        best = max((r for r in rules if r["allowed"]), key=lambda r: r["camera_mean"])
        report["estimators"][str(path)] = {"rules": rules, "chosen": {"seen": best["seen"], "ratio": best["ratio"]}}
        print(f"{path}: noises {list(per_noise)}")
        for rule in rules:
            mark = " <- chosen" if rule is best else ("" if rule["allowed"] else " (loses on white noise or clean)")
            cells = " ".join(f"{v:+.2f}" for v in rule["gains"].values())
            print(f"  seen >= {rule['seen']:.1f}, ratio >= {rule['ratio']:.1f}: {cells}{mark}")
    if args.json:
        args.json.write_text(json.dumps({**report, "per_photo": per_noise}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
