"""Train the quality-conditioned de-JPEG network (`DejpegRestorer`) on the train photo set.

    lumaflow train dejpeg                          # the committed build/weights/dejpeg.pt (about an hour, 1 thread)
    lumaflow train dejpeg --smoke --out /tmp/w     # seconds

Self-contained rather than a `Recipe`: the recipes' loop reads the wallpapers only and feeds one input, while
this network learns from `load_set("train")` and takes the JPEG quality as a second input. The rest follows
the recipes' rules: Adam, a cosine schedule to 1 % of the peak, L1 + 2 x L1 of BT.601 luma (after
``--warmup-steps`` of the squared loss, see `warmup_loss_fn`), a fixed seed and thread count. Writes a plain
state dict every ``--checkpoint-every`` steps and at the end (``dejpeg_q.pt``), ``train_summary.json``, and the
file the stage serves (``dejpeg.pt``) with its manifest entry, scored on the validation photos.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lumaflow.build import WEIGHTS_DIR
from lumaflow.build.arch.dejpeg import DejpegRestorer
from lumaflow.build.artifacts import save_state_dict, sha256_file, update_manifest
from lumaflow.build.dejpeg_data import QUALITY_RANGE, SCALES, DejpegSampler
from lumaflow.build.dejpeg_eval import evaluate_dejpeg
from lumaflow.build.photo_sets import load_set
from lumaflow.build.registry import load_file

HP = {"features": 48, "low_features": 96, "pre": 2, "low": 4, "post": 2}
LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
LUMA_WEIGHT = 2.0
FINAL_NAME = "dejpeg_q.pt"
NAME = "dejpeg"  # the committed file and its manifest entry


def loss_fn(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 on RGB + 2 x L1 on BT.601 luma."""
    luma = ((output - target) * LUMA).sum(1)
    return torch.nn.functional.l1_loss(output, target) + LUMA_WEIGHT * luma.abs().mean()


def warmup_loss_fn(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The same with squares (MSE on RGB + 2 x MSE on luma), for the first steps only.

    From the zero residual the network starts at, L1 barely moves: after 200 steps the held-out L1 of this
    network and of the served ``ResidualRestorer`` 64 x 8 were both still the JPEG's (0.03157 against 0.03155),
    the mean absolute correction 0.0002, while MSE had already cut the held-out MSE by 6 %.
    """
    luma = ((output - target) * LUMA).sum(1)
    return torch.nn.functional.mse_loss(output, target) + LUMA_WEIGHT * luma.square().mean()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="train_dejpeg", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=15000)
    p.add_argument("--batch-size", type=int, default=12)
    p.add_argument("--patch", type=int, default=96, help="patch side, a multiple of 8 (the JPEG block)")
    p.add_argument("--lr", type=float, default=5e-4, help="peak learning rate (cosine to 1%%)")
    p.add_argument("--warmup-steps", type=int, default=1000, help="first steps on the squared loss")
    p.add_argument("--init", type=Path, help="start from these weights (a longer schedule in two runs)")
    p.add_argument(
        "--quality-range",
        type=int,
        nargs=2,
        default=list(QUALITY_RANGE),
        metavar=("LOW", "HIGH"),
        help="JPEG qualities drawn uniformly per patch (a continuation may weight the low end)",
    )
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=int, default=1000)
    p.add_argument("--out", type=Path, default=WEIGHTS_DIR, help=f"weights folder (default {WEIGHTS_DIR})")
    p.add_argument("--smoke", action="store_true", help="a few steps on two photos")
    args = p.parse_args(argv)
    if args.patch % 8 or args.patch < 16:
        p.error("--patch must be a multiple of 8 and >= 16")
    if args.smoke:
        args.steps, args.batch_size, args.patch = min(args.steps, 20), min(args.batch_size, 4), min(args.patch, 32)
        args.warmup_steps = min(args.warmup_steps, 10)
    return args


def train(args: argparse.Namespace) -> dict[str, object]:
    """The training loop; returns a summary (also written as ``train_summary.json`` beside the weights)."""
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    photos = list(load_set("train", limit=2 if args.smoke else None).values())
    sampler = DejpegSampler(photos, args.patch, rng, quality_range=(args.quality_range[0], args.quality_range[1]))
    model = DejpegRestorer(**HP)
    if args.init is not None:
        model.load_state_dict(torch.load(args.init, weights_only=True))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(args.steps, 1), eta_min=args.lr * 0.01)
    args.out.mkdir(parents=True, exist_ok=True)
    model.train()
    start, recent = time.perf_counter(), []
    for step in range(1, args.steps + 1):
        (x, q), target = sampler.batch(args.batch_size)
        loss = (warmup_loss_fn if step <= args.warmup_steps else loss_fn)(model(x, q), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        recent.append(loss.item())
        if step % 50 == 0 or step == args.steps:
            elapsed = time.perf_counter() - start
            print(
                f"step {step} loss {np.mean(recent):.5f} lr {sched.get_last_lr()[0]:.2e} "
                f"{elapsed / step:.3f} s/step {elapsed / 60:.1f} min",
                flush=True,
            )
            recent = []
        if step % args.checkpoint_every == 0:
            torch.save(model.state_dict(), args.out / f"dejpeg_q_step{step}.pt")
    model.eval()
    torch.save(model.state_dict(), args.out / FINAL_NAME)
    minutes = (time.perf_counter() - start) / 60
    summary: dict[str, object] = {
        "architecture": "DejpegRestorer",
        "hp": HP,
        "params": sum(p.numel() for p in model.parameters()),
        "steps": args.steps,
        **({"init": str(args.init)} if args.init is not None else {}),
        "batch_size": args.batch_size,
        "patch": args.patch,
        "lr": args.lr,
        "threads": args.threads,
        "seed": args.seed,
        "quality_range": list(args.quality_range),
        "scales": list(SCALES),
        "loss": f"L1 + {LUMA_WEIGHT:g} x L1 of luma (BT.601); the first {args.warmup_steps} steps MSE + "
        f"{LUMA_WEIGHT:g} x MSE of luma",
        "minutes": round(minutes, 2),
        "seconds_per_step": round(minutes * 60 / max(args.steps, 1), 4),
    }
    (args.out / "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def manifest_entry(weights: Path, summary: dict[str, Any], *, smoke: bool) -> dict[str, Any]:
    """The weights manifest's record of a trained file, as `lumaflow.build.training` writes one for a recipe: how it
    was made (from the training summary) and what it scored on the validation photos, told each file's quality."""
    descriptor = load_file(str(weights))  # proves the file round-trips through the registry
    model = descriptor.model
    report = evaluate_dejpeg(descriptor, load_set("validation", limit=2 if smoke else None))
    macs = model.macs_per_input_pixel() if isinstance(model, DejpegRestorer) else float("nan")
    steps, lr = int(summary["steps"]), float(summary["lr"])
    return {
        "file": weights.name,
        "sha256": sha256_file(weights),
        "architecture": descriptor.architecture,
        "hyperparameters": dict(descriptor.hyperparameters),
        "params": sum(p.numel() for p in model.parameters()),
        "gflop_320x240": round(2 * macs * 320 * 240 / 1e9, 3),
        "training": {
            "data": "the train photo set (lumaflow.build.photo_sets)",
            "files": list(load_set("train", limit=2 if smoke else None)),
            "source_scales": summary["scales"],
            "degradation": f"Pillow JPEG 4:2:0 per patch, quality uniform in {summary['quality_range']}; the network"
            " is told the quality read back from the file's tables",
            "steps": steps,
            "batch_size": summary["batch_size"],
            "patch": summary["patch"],
            "optimizer": f"Adam lr {lr:g}, cosine to {lr * 0.01:g}",
            "loss": summary["loss"],
            "seed": summary["seed"],
            "threads": summary["threads"],
            "seconds": round(float(summary["minutes"]) * 60, 1),
            "torch": torch.__version__,
            "smoke": smoke,
        },
        "eval": report.as_dict(),
    }


def main(argv: list[str] | None = None) -> int:
    """Train, then write ``dejpeg.pt`` and its manifest entry into ``--out`` (``lumaflow train dejpeg``)."""
    args = parse_args(argv)
    summary = train(args)
    weights = save_state_dict(torch.load(args.out / FINAL_NAME, weights_only=True), args.out / f"{NAME}.pt")
    entry = manifest_entry(weights, summary, smoke=args.smoke)
    update_manifest(args.out, NAME, entry)
    for key, result in entry["eval"].items():
        print(f"{key}: mean gain {result['mean_gain']:+.2f} dB on the validation photos")
    print(f"trained {NAME} in {entry['training']['seconds']:.0f} s -> {weights}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
