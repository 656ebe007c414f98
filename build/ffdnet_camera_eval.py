"""FFDNet fine-tuned on camera noise (`lumaflow.build.train_ffdnet`) against the published weights (issue 31).

    python -m lumaflow.build.ffdnet_camera_eval W/ffdnet_camera.pt [--set validation] [--json out.json]

The noises of `lumaflow.build.noise_map_eval` (its camera at three strengths, never trained on; white σ 15/25/50;
clean) on each photo's 256 px centre crop. FFDNet as published told: the analysis network's σ (``denoise``
before issue 31), the σ served today (`lumaflow.runtime.noise_map`'s rule), and the best single σ chosen against
the reference (the issue's oracle). The tuned FFDNet told: the analysis network's σ, the served rule's σ, and
the estimator's level always (what it was trained to be told on camera noise). Gains over the oracle and over
today's served σ, with 95 % bootstrap intervals over the photos.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lumaflow.build import WEIGHTS_DIR
from lumaflow.build.benchmark_report import bootstrap_interval
from lumaflow.build.denoise import center_crop, denoise
from lumaflow.build.noise_map_eval import ORACLE_SIGMAS, noisy_versions, rgb_psnr
from lumaflow.build.noise_map_gates import estimate_graph, served_reading
from lumaflow.build.photo_sets import SETS, load_set
from lumaflow.build.train_noise_map import NAME as ESTIMATOR
from lumaflow.build.train_noise_map import load_ffdnet

COLUMNS = ("published_analysis", "published_served", "oracle", "tuned_analysis", "tuned_served", "tuned_estimator")
GAINS = (("tuned_served", "oracle"), ("tuned_estimator", "oracle"), ("tuned_served", "published_served"))


@torch.inference_mode()
def scores(tuned_weights: Path, photos: dict[str, np.ndarray], crop: int) -> dict[str, dict[str, dict[str, float]]]:
    """Per noise, per photo: each column's PSNR and the σs told."""
    from lumaflow.build.offline import OfflineServer

    published, tuned, server = load_ffdnet(), load_ffdnet(tuned_weights), OfflineServer()
    graph = estimate_graph(WEIGHTS_DIR / ESTIMATOR)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for index, (name, photo) in enumerate(photos.items()):
        for noise, (noisy, reference) in noisy_versions(center_crop(photo, crop), index).items():
            analysis = server.analysis(noisy)["noise_sigma"]
            reading = served_reading(graph, analysis, noisy)
            told = {"analysis": analysis, "served": reading.sigma, "estimator": reading.level}
            row = {f"sigma_{k}": float(v) for k, v in told.items()}
            for key in ("analysis", "served"):
                row[f"published_{key}"] = rgb_psnr(denoise(published, noisy, told[key]), reference)
            row["oracle"] = max(rgb_psnr(denoise(published, noisy, s), reference) for s in ORACLE_SIGMAS)
            for key in ("analysis", "served", "estimator"):
                row[f"tuned_{key}"] = rgb_psnr(denoise(tuned, noisy, told[key]), reference)
            out.setdefault(noise, {})[name] = row
    return out


def summary(per_noise: dict[str, dict[str, dict[str, float]]]) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for noise, photos in per_noise.items():
        rows = list(photos.values())
        entry: dict[str, Any] = {"photos_n": len(rows)}
        entry["psnr"] = {c: round(float(np.mean([r[c] for r in rows])), 3) for c in COLUMNS}
        for column, base in GAINS:
            gains = [r[column] - r[base] for r in rows]
            interval = [round(v, 3) for v in bootstrap_interval(gains)]
            entry[f"{column}-{base}"] = {"mean": round(float(np.mean(gains)), 3), "ci95": interval}
        report[noise] = entry
    return report


def table(report: dict[str, Any]) -> str:
    gains = [f"{a} - {b}" for a, b in GAINS]
    lines = [
        "| noise | n | " + " | ".join(COLUMNS) + " | " + " | ".join(gains) + " |",
        "| --- | ---: | " + " | ".join("---:" for _ in (*COLUMNS, *GAINS)) + " |",
    ]
    for noise, entry in report.items():
        cells = [f"{entry['psnr'][c]:.2f}" for c in COLUMNS]
        for a, b in GAINS:
            gain = entry[f"{a}-{b}"]
            cells.append(f"{gain['mean']:+.2f} [{gain['ci95'][0]:+.2f}, {gain['ci95'][1]:+.2f}]")
        lines.append(f"| {noise} | {entry['photos_n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="ffdnet_camera_eval", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("weights", type=Path, help="the tuned FFDNet (train_ffdnet's ffdnet_camera.pt)")
    p.add_argument("--set", choices=SETS, default="validation")
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--photos", type=int, help="only the first N photos")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    per_noise = scores(args.weights, load_set(args.set, limit=args.photos), args.crop)
    report = summary(per_noise)
    print(f"set: {args.set}, crop {args.crop}, tuned FFDNet {args.weights}")
    print(table(report))
    if args.json:
        run = {"set": args.set, "crop": args.crop, "weights": str(args.weights)}
        args.json.write_text(json.dumps({**run, "report": report, "per_photo": per_noise}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
