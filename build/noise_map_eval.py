"""FFDNet told a noise map against FFDNet told one σ, on noise a camera makes (issue 31).

    python -m lumaflow.build.noise_map_eval build/weights/noise_map.pt [--set validation] [--json out.json]

Each photo of the set (centre crop ``--crop``) is put through `camera_noise.camera_pipeline` at its three
strengths (never used in training), given white Gaussian noise of σ 15, 25 and 50, and left clean (what denoising
costs a photo that needs none); each noisy crop is denoised by
FFDNet (the served weights, in torch) told:

- ``denoise``: the analysis network's σ for the photo, as `denoise` is served today (no ``noise_level``);
- ``oracle_constant``: the best single σ for that crop, chosen against the reference (an upper bound for any one σ);
- ``map``: the estimator's map (`NoiseMapEstimator`, the weights given), told to FFDNet as published or to the
  FFDNet fine-tuned with the estimator (``--ffdnet``);
- ``map_mean``: the map's mean as one σ, told to the same FFDNet (what the map adds by varying over the photo);
- ``oracle_blocks``: a map made with the reference in hand: for each 32 × 32 block the best σ of the oracle's
  candidates, smoothed (Gaussian, 12 px). No estimator can know this; it bounds what any map can add over
  ``oracle_constant``.
- ``served``: the ``denoise`` pipeline as served (OPTIONS default: ``noise_map`` auto), run offline through the
  model repository's graphs (`OfflineServer`): the σ of `lumaflow.runtime.noise_map`'s rule, told FFDNet;
- ``nlm`` and ``nlm_oracle``: scikit-image's non-local means with Quality's settings (h = 0.6 σ; the oracle picks h
  per crop against the reference), told the noise's true σ: the standard deviation of noisy minus reference.

Scores: RGB PSNR against the reference (`camera_reference`, the noise-free rendering, for the camera; the clean
crop for white noise), mean over photos with a 95 % bootstrap interval of each method's gain over ``denoise`` and
over ``oracle_constant``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lumaflow.build.arch.noise_map import NoiseMapEstimator, ffdnet_level
from lumaflow.build.assess_data import to_tensor
from lumaflow.build.benchmark_report import bootstrap_interval
from lumaflow.build.camera_noise import CAMERA_STRENGTHS, camera_pipeline, camera_reference
from lumaflow.build.denoise import add_gaussian_noise, center_crop, denoise, nl_means, nl_means_oracle
from lumaflow.build.eval import rgb_psnr as exact_psnr
from lumaflow.build.photo_sets import SETS, load_set
from lumaflow.build.train_noise_map import load_ffdnet
from lumaflow.ensemble.pipelines import DENOISE
from lumaflow.runtime.png import write_png

UNIFORM_SIGMAS = (15, 25, 50)
ORACLE_SIGMAS = (0, 2, 3, 5, 7, 10, 13, 16, 20, 25, 30, 38, 46, 55, 65)
METHODS = ("denoise", "oracle_constant", "map", "map_mean", "oracle_blocks", "served", "nlm", "nlm_oracle")
BLOCK = 32
PSNR_CAP = 60.0  # an output identical to the reference (a clean photo left alone) scores this, not infinity
NLM_MIN_SIGMA = 0.5
BLOCK_SMOOTHING = 12.0


def rgb_psnr(a: np.ndarray, b: np.ndarray) -> float:
    return min(exact_psnr(a, b), PSNR_CAP)


def _pixels(x: torch.Tensor) -> np.ndarray:
    return np.clip(np.round(x[0].permute(1, 2, 0).numpy() * 255.0), 0, 255).astype(np.uint8)


class Denoisers:
    def __init__(self, estimator: NoiseMapEstimator, scale: float = 1.0, tuned: Path | None = None) -> None:
        from lumaflow.build.offline import OfflineServer

        self.ffdnet, self.estimator, self.server = load_ffdnet(), estimator.eval(), OfflineServer()
        self.map_ffdnet = load_ffdnet(tuned) if tuned is not None else self.ffdnet
        self.scale = scale

    def constant(self, noisy: np.ndarray, sigma: float) -> np.ndarray:
        return denoise(self.ffdnet, noisy, sigma)

    @torch.inference_mode()
    def with_map(self, noisy: np.ndarray, sigma_map: np.ndarray) -> np.ndarray:
        """FFDNet told a full-resolution map of σ (0-255), averaged onto its half-resolution grid."""
        x = to_tensor([noisy])
        full = torch.from_numpy(sigma_map.astype(np.float32))[None, None] / 255.0
        padded = torch.nn.functional.pad(full, (0, full.shape[-1] % 2, 0, full.shape[-2] % 2), mode="replicate")
        return _pixels(self.ffdnet(x, torch.nn.functional.avg_pool2d(padded, 2)))

    def block_oracle(self, noisy: np.ndarray, reference: np.ndarray, outputs: dict[float, np.ndarray]) -> float:
        """PSNR of FFDNet told the best σ per block (chosen against ``reference``), smoothed."""
        import cv2

        sigmas = np.array(list(outputs))
        errors = np.stack([((o.astype(np.float64) - reference) ** 2).mean(-1) for o in outputs.values()])
        h, w = errors.shape[1:]
        rows, cols = -(-h // BLOCK), -(-w // BLOCK)
        padded = np.pad(errors, ((0, 0), (0, rows * BLOCK - h), (0, cols * BLOCK - w)), mode="edge")
        blocks = padded.reshape(len(sigmas), rows, BLOCK, cols, BLOCK).mean(axis=(2, 4))
        chosen = np.kron(sigmas[blocks.argmin(0)], np.ones((BLOCK, BLOCK)))[:h, :w].astype(np.float32)
        return rgb_psnr(self.with_map(noisy, cv2.GaussianBlur(chosen, (0, 0), BLOCK_SMOOTHING)), reference)

    @torch.inference_mode()
    def scores(self, noisy: np.ndarray, reference: np.ndarray) -> dict[str, tuple[float, float]]:
        """Each method's (PSNR, the σ it used: the mean for a map)."""
        x = to_tensor([noisy])
        levels = self.estimator(x) * self.scale
        mapped = _pixels(self.map_ffdnet(x, ffdnet_level(levels, x.shape[-2], x.shape[-1])))
        estimated = self.server.analysis(noisy)["noise_sigma"]
        outputs = {float(s): self.constant(noisy, s) for s in ORACLE_SIGMAS}
        oracle = max((rgb_psnr(out, reference), s) for s, out in outputs.items())
        mean = float(levels.mean())
        served = self.server.run(DENOISE, write_png(noisy))
        true_sigma = float(np.std(noisy.astype(np.float64) - reference))
        nlm, nlm_oracle = (
            (nl_means(noisy, true_sigma), nl_means_oracle(noisy, true_sigma, reference))
            if true_sigma >= NLM_MIN_SIGMA
            else (noisy, noisy)  # a clean photo: NLM told σ 0 is the photo itself
        )
        return {
            "denoise": (rgb_psnr(self.constant(noisy, estimated), reference), estimated),
            "oracle_constant": (oracle[0], float(oracle[1])),
            "map": (rgb_psnr(mapped, reference), mean),
            "map_mean": (rgb_psnr(denoise(self.map_ffdnet, noisy, mean), reference), mean),
            "oracle_blocks": (self.block_oracle(noisy, reference, outputs), float(oracle[1])),
            "served": (rgb_psnr(served.pixels, reference), served.info["analysis"]["noise_level"]["sigma"]),
            "nlm": (rgb_psnr(nlm, reference), true_sigma),
            "nlm_oracle": (rgb_psnr(nlm_oracle, reference), true_sigma),
        }


def noisy_versions(clean: np.ndarray, index: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(noisy, reference) per degradation, seeded by the photo's index."""
    versions = {
        f"camera_{name}": (camera_pipeline(clean, name, 1000 * index + k), camera_reference(clean))
        for k, name in enumerate(CAMERA_STRENGTHS)
    }
    for sigma in UNIFORM_SIGMAS:
        versions[f"sigma{sigma}"] = (add_gaussian_noise(clean, sigma, 1000 * index + sigma), clean)
    versions["clean"] = (clean, clean)  # no noise: what denoising costs a photo that needs none
    return versions


def evaluate(denoisers: Denoisers, photos: dict[str, np.ndarray], crop: int) -> dict[str, Any]:
    per: dict[str, dict[str, dict[str, tuple[float, float]]]] = {}
    for index, (name, photo) in enumerate(photos.items()):
        for degradation, (noisy, reference) in noisy_versions(center_crop(photo, crop), index).items():
            per.setdefault(degradation, {})[name] = denoisers.scores(noisy, reference)
    report: dict[str, Any] = {}
    for degradation, by_photo in per.items():
        rows: dict[str, Any] = {}
        for method in METHODS:
            psnr = [by_photo[p][method][0] for p in by_photo]
            rows[method] = {
                "psnr": round(float(np.mean(psnr)), 3),
                "sigma_mean": round(float(np.mean([by_photo[p][method][1] for p in by_photo])), 2),
            }
            for base in ("denoise", "oracle_constant"):
                gains = [by_photo[p][method][0] - by_photo[p][base][0] for p in by_photo]
                rows[method][f"gain_over_{base}"] = round(float(np.mean(gains)), 3)
                rows[method][f"gain_over_{base}_ci95"] = [round(v, 3) for v in bootstrap_interval(gains)]
        report[degradation] = {"photos_n": len(by_photo), "methods": rows, "photos": by_photo}
    return report


def _cell(row: dict[str, Any]) -> str:
    return f"{row['psnr']:.2f} (σ {row['sigma_mean']:.1f})"


def _gain(row: dict[str, Any], base: str) -> str:
    low, high = row[f"gain_over_{base}_ci95"]
    return f"{row[f'gain_over_{base}']:+.2f} [{low:+.2f}, {high:+.2f}]"


def table(report: dict[str, Any]) -> str:
    lines = [
        "| noise | n | denoise (today) | oracle one σ | map | map's mean as one σ | oracle map | served | NLM "
        "| NLM oracle | map - today | map - oracle one σ | oracle map - oracle one σ | served - today "
        "| served - oracle one σ |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for degradation, entry in report.items():
        m = entry["methods"]
        cells = " | ".join(_cell(m[k]) for k in METHODS)
        lines.append(
            f"| {degradation} | {entry['photos_n']} | {cells} | {_gain(m['map'], 'denoise')} "
            f"| {_gain(m['map'], 'oracle_constant')} | {_gain(m['oracle_blocks'], 'oracle_constant')} "
            f"| {_gain(m['served'], 'denoise')} | {_gain(m['served'], 'oracle_constant')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="noise_map_eval", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("weights", type=Path)
    p.add_argument("--set", choices=SETS, default="validation")
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--photos", type=int, help="only the first N photos")
    p.add_argument(
        "--scale", type=float, default=1.0, help="multiply the estimator's map by this (a level-trained one)"
    )
    p.add_argument("--ffdnet", type=Path, help="the FFDNet fine-tuned with the estimator (train_noise_map --ffdnet-lr)")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    estimator = NoiseMapEstimator()
    estimator.load_state_dict(torch.load(args.weights, weights_only=True))
    report = evaluate(Denoisers(estimator, args.scale, args.ffdnet), load_set(args.set, limit=args.photos), args.crop)
    print(f"set: {args.set}, crop {args.crop}, weights {args.weights}, map scale {args.scale:g}")
    print(table(report))
    if args.json:
        run = {"set": args.set, "crop": args.crop, "weights": str(args.weights), "scale": args.scale}
        run["ffdnet"] = str(args.ffdnet) if args.ffdnet else "published"
        args.json.write_text(json.dumps({**run, "report": report}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
