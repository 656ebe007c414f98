"""Train the x2 ESPCN on the wallpaper photos and record it in the weights manifest.

    python -m lumaflow.build.train_sr                       # the committed weights
    python -m lumaflow.build.train_sr --smoke --out /tmp/w  # seconds, for CI

Deterministic for a given seed and thread count, so the committed weights can be reproduced.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from lumaflow.build import WEIGHTS_DIR
from lumaflow.build.arch.espcn import ESPCN
from lumaflow.build.artifacts import save_state_dict, sha256_file, update_manifest
from lumaflow.build.eval import evaluate_sr_x2
from lumaflow.build.photos import (
    WALLPAPER_PACKAGE,
    WALLPAPER_ROOT,
    MissingPhotosError,
    load_rgb,
    wallpaper_photo_paths,
)
from lumaflow.build.registry import load_file
from lumaflow.build.sr_data import PatchSampler, make_pairs

NETWORK = "espcn_x2"
HYPERPARAMETERS: dict[str, int] = {"scale": 2, "features": 32, "mid_features": 24, "num_body": 3}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=10000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help=f"weights folder (default {WEIGHTS_DIR})")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--patch", type=int, default=96, help="HR patch size (even)")
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (cosine to 1%%)")
    p.add_argument("--scales", default="0.5,0.33", help="source downscales of each photo, comma-separated")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--wallpapers", type=Path, default=WALLPAPER_ROOT)
    p.add_argument("--smoke", action="store_true", help="a few steps on two photos; needs --out")
    args = p.parse_args(argv)
    if args.patch % 2 or args.patch < 8:
        p.error("--patch must be an even number >= 8")
    if args.smoke:
        if args.out is None:
            p.error("--smoke needs --out, so it cannot overwrite the committed weights")
        args.steps = min(args.steps, 20)
        args.batch_size = min(args.batch_size, 4)
        args.patch = min(args.patch, 48)
    if args.out is None:
        args.out = WEIGHTS_DIR
    return args


def train(model: ESPCN, sampler: PatchSampler, args: argparse.Namespace) -> float:
    """Adam + L1 with a cosine schedule; returns the mean loss over the last 10% of steps."""
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.steps, eta_min=args.lr * 0.01)
    tail: list[float] = []
    model.train()
    bar = tqdm(range(args.steps), desc=NETWORK, mininterval=2.0, file=sys.stderr)
    for step in bar:
        lr_img, hr_img = sampler.batch(args.batch_size)
        loss = torch.nn.functional.l1_loss(model(lr_img), hr_img)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step >= args.steps * 0.9:
            tail.append(loss.item())
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}")
    model.eval()
    return float(np.mean(tail)) if tail else math.nan


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    try:
        paths = wallpaper_photo_paths(args.wallpapers)
    except MissingPhotosError as e:
        print(f"train_sr: {e}: apt-get install {WALLPAPER_PACKAGE}", file=sys.stderr)
        return 2
    if args.smoke:
        paths = paths[:2]
    scales = [float(s) for s in args.scales.split(",")]

    started = time.perf_counter()
    sampler = PatchSampler(make_pairs((load_rgb(p) for p in paths), scales), args.patch // 2, rng)
    model = ESPCN(**HYPERPARAMETERS)
    loss = train(model, sampler, args)
    seconds = time.perf_counter() - started

    weights = save_state_dict(model.state_dict(), args.out / f"{NETWORK}.pt")
    descriptor = load_file(weights)  # proves the file round-trips through the registry
    report = evaluate_sr_x2(descriptor)
    macs = ESPCN(**HYPERPARAMETERS).macs_per_input_pixel() * 320 * 240
    entry: dict[str, Any] = {
        "file": weights.name,
        "sha256": sha256_file(weights),
        "architecture": descriptor.architecture,
        "hyperparameters": dict(descriptor.hyperparameters),
        "params": sum(p.numel() for p in model.parameters()),
        "gflop_320x240": round(2 * macs / 1e9, 3),
        "training": {
            "data": f"{WALLPAPER_PACKAGE} photos",
            "files": [str(p.relative_to(args.wallpapers)) for p in paths],
            "source_scales": scales,
            "degradation": "Pillow BICUBIC /2",
            "steps": args.steps,
            "batch_size": args.batch_size,
            "hr_patch": args.patch,
            "optimizer": f"Adam lr {args.lr:g}, cosine to {args.lr * 0.01:g}",
            "loss": "L1",
            "final_loss": round(loss, 5),
            "seed": args.seed,
            "threads": args.threads,
            "seconds": round(seconds, 1),
            "torch": torch.__version__,
            "smoke": args.smoke,
        },
        "eval": report.as_dict(),
    }
    update_manifest(args.out, NETWORK, entry)
    for s in report.photos:
        print(f"{s.name:10s} model {s.model_db:6.2f} dB  bicubic {s.bicubic_db:6.2f} dB  ({s.gain_db:+.2f})")
    print(
        f"mean       model {report.mean_model_db:6.2f} dB  bicubic {report.mean_bicubic_db:6.2f} dB  "
        f"({report.mean_gain_db:+.2f}); trained {seconds:.0f} s -> {weights}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
