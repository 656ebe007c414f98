"""Fine-tune FFDNet on camera noise, told the noise-map estimator's level (issue 31's denoiser-side experiment).

    python -m lumaflow.build.train_ffdnet --out W                      # the defaults: run B of docs/quality.md
    python -m lumaflow.build.train_ffdnet --smoke --out /tmp/w
    python -m lumaflow.build.ffdnet_camera_eval W/ffdnet_camera.pt     # judged on the validation photos

Why: FFDNet's published weights were trained on white Gaussian noise; a camera's noise, correlated by
demosaicking and JPEG, is denoised best told a σ 2-4 times its real level, and no map told to those weights
reached the issue's "best single σ + 0.2 dB" (docs/quality.md, "Noise maps for FFDNet"). So FFDNet itself learns
camera noise here. Each step: random crops of the train photos (rot90), each one of

- ``--camera``: `camera_noise.training_camera` (never the evaluation's camera), told the frozen estimator's
  median level over the crop (what ``denoise`` tells FFDNet for camera noise);
- ``--white``: white Gaussian noise of σ drawn from ``--white-from``-50, told its σ;
- the rest clean, told the estimator's level (which reads texture as noise) or, for ``--clean-low`` of them, a σ
  of 0-2 (what the analysis network reads on a clean photo): FFDNet must leave those alone.

Loss: MSE, or ``logmse`` (each crop's log MSE, so clean and lightly noisy crops weigh as much as noisy ones).
Adam from the published weights, cosine to 1 % of ``--lr``, fixed seed and thread count. Writes
``ffdnet_camera.pt`` and ``ffdnet_camera_summary.json``; serves nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from lumaflow.build import WEIGHTS_DIR
from lumaflow.build.arch.noise_map import NoiseMapEstimator
from lumaflow.build.artifacts import save_state_dict
from lumaflow.build.assess_data import to_tensor
from lumaflow.build.camera_noise import training_camera
from lumaflow.build.denoise import gaussian_noise
from lumaflow.build.photo_sets import load_set
from lumaflow.build.train_noise_map import NAME as ESTIMATOR
from lumaflow.build.train_noise_map import load_ffdnet, rotated_patch

NAME = "ffdnet_camera.pt"
SUMMARY = "ffdnet_camera_summary.json"
WHITE_TO = 50.0
CLEAN_LOW = 2.0
LOG_FLOOR = 1e-6  # a crop's MSE floor under the log: 60 dB, so a clean crop left exactly alone has a bounded loss


def log_mse(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The mean of each crop's log MSE: every crop's dB counts alike, clean and lightly noisy ones included."""
    return torch.log(((output - target) ** 2).mean(dim=(1, 2, 3)) + LOG_FLOOR).mean()


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "mse": torch.nn.functional.mse_loss,
    "logmse": log_mse,
}


class CameraCrops:
    """Batches of (noisy, reference, told σ on 0-255) crops of the train photos; see the module's list."""

    def __init__(self, photos: list[np.ndarray], args: argparse.Namespace, rng: np.random.Generator) -> None:
        self.photos = [p for p in photos if min(p.shape[:2]) >= args.patch]
        self.patch, self.args, self.rng = args.patch, args, rng

    def _one(self) -> tuple[np.ndarray, np.ndarray, float | None]:
        """(noisy, reference, σ told) with ``None`` for "the estimator's level"."""
        clean, draw, args = rotated_patch(self.photos, self.patch, self.rng), self.rng.random(), self.args
        if draw < args.camera:
            return *training_camera(clean, self.rng), None
        if draw < args.camera + args.white:
            sigma = float(self.rng.uniform(args.white_from, WHITE_TO))
            return gaussian_noise(clean, sigma, self.rng), clean, sigma
        if args.clean_low == 0 or self.rng.random() < 1.0 - args.clean_low:
            return clean, clean, None
        return clean, clean, float(self.rng.uniform(0.0, CLEAN_LOW))

    def batch(
        self, n: int, estimator: NoiseMapEstimator, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(noisy, reference) float NCHW in [0, 1] and the σ each is told, [N, 1, 1, 1] on FFDNet's 0-1 scale."""
        noisy, references, told = zip(*(self._one() for _ in range(n)), strict=True)
        x = to_tensor(noisy).to(device)
        with torch.no_grad():
            levels = estimator(x).flatten(1).median(dim=1).values.cpu()
        sigmas = torch.tensor([(float(levels[i]) if s is None else s) / 255.0 for i, s in enumerate(told)])
        return x, to_tensor(references).to(device), sigmas[:, None, None, None].to(device)


def train(args: argparse.Namespace) -> dict[str, object]:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    crops = CameraCrops(list(load_set("train", limit=2 if args.smoke else None).values()), args, rng)
    estimator = NoiseMapEstimator()
    estimator.load_state_dict(torch.load(args.estimator, weights_only=True))
    device = torch.device(args.device)
    estimator.to(device).eval().requires_grad_(False)
    ffdnet = load_ffdnet().to(device).train().requires_grad_(True)
    opt = torch.optim.Adam(ffdnet.parameters(), lr=args.lr)
    start, recent = time.perf_counter(), 0.0
    for step in range(1, args.steps + 1):
        for group in opt.param_groups:
            group["lr"] = args.lr * (0.01 + 0.99 * (1 + math.cos(math.pi * (step - 1) / args.steps)) / 2)
        noisy, reference, sigma = crops.batch(args.batch_size, estimator, device)
        loss = LOSSES[args.loss](ffdnet(noisy, sigma), reference)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        recent += loss.item()
        if step % 50 == 0:
            print(f"step {step} loss {recent / 50:.6f} {(time.perf_counter() - start) / step:.3f} s/step", flush=True)
            recent = 0.0
    args.out.mkdir(parents=True, exist_ok=True)
    save_state_dict(ffdnet.state_dict(), args.out / NAME)  # save_state_dict moves it to the CPU
    summary = {
        "architecture": "FFDNet (from the published colour weights)",
        **{k: getattr(args, k) for k in ("steps", "batch_size", "patch", "lr", "loss", "seed", "threads", "device")},
        **{k: getattr(args, k) for k in ("camera", "white", "white_from", "clean_low")},
        "estimator": str(args.estimator),
        "data": "the train photo set; camera_noise.training_camera, white Gaussian noise, clean crops",
        "seconds": round(time.perf_counter() - start, 1),
        "torch": torch.__version__,
        "smoke": args.smoke,
    }
    (args.out / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="train_ffdnet", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--patch", type=int, default=96)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--loss", choices=sorted(LOSSES), default="logmse")
    p.add_argument("--camera", type=float, default=0.5, help="share of crops through the training camera")
    p.add_argument("--white", type=float, default=0.35, help="share of crops given white Gaussian noise")
    p.add_argument("--white-from", type=float, default=0.0, help="the white noise's least σ")
    p.add_argument("--clean-low", type=float, default=0.5, help="share of the clean crops told σ 0-2")
    p.add_argument("--estimator", type=Path, default=WEIGHTS_DIR / ESTIMATOR)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="where FFDNet trains: cpu, or cuda on a GPU machine")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--smoke", action="store_true")
    args = p.parse_args(argv)
    if args.smoke:
        args.steps, args.batch_size, args.patch = min(args.steps, 3), 2, 32
    summary = train(args)
    print(f"{NAME}: {summary['steps']} steps in {summary['seconds']} s -> {args.out / NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
