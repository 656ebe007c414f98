"""Pixel-shuffle down-sampling (PD) in front of the published FFDNet, on noise a camera makes (issue 31).

    python -m lumaflow.build.pd_denoise_eval [--set validation] [--json out.json]

Camera noise is correlated over a pixel or two by demosaicking, which FFDNet, trained on white noise, does not
expect. PD (Zhou et al., "When AWGN-based Denoiser Meets Real Noises", AAAI 2020) splits a photo into its
stride-2 sub-images, in each of which neighbouring pixels come from different Bayer sites and the noise is nearly
white, denoises each, and interleaves them back. Each photo's 256 px centre crop goes through the camera of
`lumaflow.build.noise_map_eval` at its three strengths; the published FFDNet (the served weights, in torch) is
told each σ of a grid, on the crop as it is (stride 1) and on its four sub-images (stride 2); also their average
(every pair of σ on the grid), and both strides at the σ served today (`lumaflow.runtime.noise_map`'s rule).
Each method's best σ per crop is an oracle chosen against the reference, which bounds what a σ rule could reach.
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
from lumaflow.build.noise_map_eval import noisy_versions, rgb_psnr
from lumaflow.build.noise_map_gates import estimate_graph, served_reading
from lumaflow.build.photo_sets import SETS, load_set
from lumaflow.build.train_noise_map import NAME as ESTIMATOR
from lumaflow.build.train_noise_map import load_ffdnet

SIGMAS = (5, 7, 10, 13, 16, 20, 25, 30, 38)
STRIDE = 2
COLUMNS = ("oracle_stride1", "oracle_stride2", "oracle_average", "served_stride1", "served_stride2")


def pixel_shuffle_denoise(ffdnet: torch.nn.Module, noisy: np.ndarray, sigma: float) -> np.ndarray:
    """FFDNet told ``sigma`` on each stride-2 sub-image of ``noisy`` (HxWx3 uint8), interleaved back."""
    out = np.empty_like(noisy)
    for row in range(STRIDE):
        for column in range(STRIDE):
            sub = np.ascontiguousarray(noisy[row::STRIDE, column::STRIDE])
            out[row::STRIDE, column::STRIDE] = denoise(ffdnet, sub, sigma)
    return out


def average(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.clip(np.round((a.astype(np.float32) + b) / 2), 0, 255).astype(np.uint8)


@torch.inference_mode()
def scores(photos: dict[str, np.ndarray], crop: int) -> dict[str, dict[str, dict[str, float]]]:
    """Per camera noise, per photo: each column's PSNR, and the σ served."""
    from lumaflow.build.offline import OfflineServer

    ffdnet, server, graph = load_ffdnet(), OfflineServer(), estimate_graph(WEIGHTS_DIR / ESTIMATOR)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for index, (name, photo) in enumerate(photos.items()):
        for noise, (noisy, reference) in noisy_versions(center_crop(photo, crop), index).items():
            if not noise.startswith("camera"):
                continue
            served = served_reading(graph, server.analysis(noisy)["noise_sigma"], noisy).sigma
            plain = {sigma: denoise(ffdnet, noisy, sigma) for sigma in SIGMAS}
            split = {sigma: pixel_shuffle_denoise(ffdnet, noisy, sigma) for sigma in SIGMAS}
            out.setdefault(noise, {})[name] = {
                "served_sigma": float(served),
                "oracle_stride1": max(rgb_psnr(result, reference) for result in plain.values()),
                "oracle_stride2": max(rgb_psnr(result, reference) for result in split.values()),
                "oracle_average": max(rgb_psnr(average(plain[a], split[b]), reference) for a in SIGMAS for b in SIGMAS),
                "served_stride1": rgb_psnr(denoise(ffdnet, noisy, served), reference),
                "served_stride2": rgb_psnr(pixel_shuffle_denoise(ffdnet, noisy, served), reference),
            }
    return out


def summary(per_noise: dict[str, dict[str, dict[str, float]]]) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for noise, photos in per_noise.items():
        rows = list(photos.values())
        entry: dict[str, Any] = {"photos_n": len(rows)}
        entry["psnr"] = {c: round(float(np.mean([r[c] for r in rows])), 3) for c in COLUMNS}
        for column, base in (("oracle_stride2", "oracle_stride1"), ("oracle_average", "oracle_stride1")):
            gains = [r[column] - r[base] for r in rows]
            interval = [round(v, 3) for v in bootstrap_interval(gains)]
            entry[f"{column}-{base}"] = {"mean": round(float(np.mean(gains)), 3), "ci95": interval}
        report[noise] = entry
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="pd_denoise_eval", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--set", choices=SETS, default="validation")
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    report = summary(per_noise := scores(load_set(args.set), args.crop))
    print(f"set: {args.set}, crop {args.crop}")
    for noise, entry in report.items():
        cells = ", ".join(f"{c} {v:.2f}" for c, v in entry["psnr"].items())
        gains = ", ".join(
            f"{k} {v['mean']:+.2f} [{v['ci95'][0]:+.2f}, {v['ci95'][1]:+.2f}]" for k, v in entry.items() if "-" in k
        )
        print(f"{noise} (n {entry['photos_n']}): {cells}; {gains}")
    if args.json:
        args.json.write_text(
            json.dumps({"set": args.set, "crop": args.crop, "report": report, "per_photo": per_noise}, indent=1) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
