"""Train the quality-conditioned de-JPEG network (`DejpegRestorer`) on the train photo set.

    lumaflow train dejpeg                          # the CPU recipe (about an hour, 1 thread)
    lumaflow train dejpeg --smoke --out /tmp/w     # seconds
    lumaflow train dejpeg --device cuda --workers 4 --minutes 7 --photos train.npz --train-only --out W
    lumaflow train dejpeg --adopt W/dejpeg_q.pt    # W's network becomes build/weights/dejpeg.pt, scored here

A GPU run (the committed weights, see docs/training.md) reads the train set packed by
`lumaflow.build.photo_pack` (that machine has no Debian packages), compresses patches in ``--workers`` processes,
and may run for a time rather than a step count: ``--minutes`` spreads the cosine schedule over the time and
records the steps it reached. ``--adopt`` then scores those weights on the validation photos here and writes
the served file and its manifest entry.

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
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lumaflow.build import WEIGHTS_DIR
from lumaflow.build.arch.dejpeg import DejpegRestorer
from lumaflow.build.artifacts import save_state_dict, sha256_file, update_manifest
from lumaflow.build.dejpeg_data import QUALITY_RANGE, SCALES, DejpegBatches
from lumaflow.build.dejpeg_eval import evaluate_dejpeg
from lumaflow.build.photo_pack import unpack
from lumaflow.build.photo_sets import load_set
from lumaflow.build.registry import load_file

HP = {"features": 48, "low_features": 96, "pre": 2, "low": 4, "post": 2}
LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
LUMA_WEIGHT = 2.0
FINAL_NAME = "dejpeg_q.pt"
NAME = "dejpeg"  # the committed file and its manifest entry
SUMMARY = "train_summary.json"
LOG_EVERY = 50


def loss_fn(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 on RGB + 2 x L1 on BT.601 luma."""
    luma = ((output - target) * LUMA.to(output.device)).sum(1)
    return torch.nn.functional.l1_loss(output, target) + LUMA_WEIGHT * luma.abs().mean()


def warmup_loss_fn(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The same with squares (MSE on RGB + 2 x MSE on luma), for the first steps only.

    From the zero residual the network starts at, L1 barely moves: after 200 steps the held-out L1 of this
    network and of the served ``ResidualRestorer`` 64 x 8 were both still the JPEG's (0.03157 against 0.03155),
    the mean absolute correction 0.0002, while MSE had already cut the held-out MSE by 6 %.
    """
    luma = ((output - target) * LUMA.to(output.device)).sum(1)
    return torch.nn.functional.mse_loss(output, target) + LUMA_WEIGHT * luma.square().mean()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="train_dejpeg", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=15000)
    p.add_argument("--minutes", type=float, help="train for this long instead of --steps (cosine over the time)")
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
    p.add_argument("--scales", type=float, nargs="+", default=list(SCALES), help="source scales of each photo")
    for key, value in HP.items():
        p.add_argument(f"--{key.replace('_', '-')}", type=int, default=value, help=f"network shape (default {value})")
    p.add_argument("--photos", type=Path, help="the train set packed by lumaflow.build.photo_pack (default: read it)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--workers", type=int, default=0, help="processes compressing patches (0: the training one)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=int, default=1000)
    p.add_argument("--out", type=Path, default=WEIGHTS_DIR, help=f"weights folder (default {WEIGHTS_DIR})")
    p.add_argument("--train-only", action="store_true", help="write the weights and summary, not the served file")
    p.add_argument("--adopt", type=Path, help="no training: serve these weights (train_summary.json beside them)")
    p.add_argument(
        "--continued-from",
        type=Path,
        help="with --adopt: the weights the run started from (--init), described by the manifest beside them",
    )
    p.add_argument("--smoke", action="store_true", help="a few steps on two photos")
    args = p.parse_args(argv)
    if args.patch % 8 or args.patch < 16:
        p.error("--patch must be a multiple of 8 and >= 16")
    if args.minutes is not None and args.minutes <= 0:
        p.error("--minutes must be > 0")
    if args.smoke:
        args.steps, args.batch_size, args.patch = min(args.steps, 20), min(args.batch_size, 4), min(args.patch, 32)
        args.warmup_steps, args.minutes = min(args.warmup_steps, 10), None
    args.hp = {key: getattr(args, key) for key in HP}
    return args


def cosine_lr(peak: float, progress: float) -> float:
    """Cosine from ``peak`` (progress 0) to 1 % of it (progress 1), as ``CosineAnnealingLR`` with eta_min."""
    low = peak * 0.01
    return low + (peak - low) * (1.0 + math.cos(math.pi * min(max(progress, 0.0), 1.0))) / 2.0


def _progress(args: argparse.Namespace, step: int, elapsed: float) -> float:
    """How far through the schedule the next step is: by steps taken, or by time for ``--minutes``."""
    if args.minutes is not None:
        return elapsed / (args.minutes * 60.0)
    return (step - 1) / max(args.steps, 1)


def load_init(model: DejpegRestorer, state: dict[str, torch.Tensor]) -> int:
    """Load ``state`` into ``model``; a model with more ``low`` convs than ``state`` gets them appended as identities.

    Each added conv is a Dirac kernel with zero bias, so the deeper network starts near the shallower one's
    function instead of from scratch (not at it: LeakyReLU applied again shrinks negative activations tenfold),
    and a continuation can add depth at 1/4 resolution, where it is cheapest. Returns the number of convs added.
    """
    have = {int(key.split(".")[1]) for key in state if key.startswith("low.")}
    added = [i for i in range(len(model.low)) if i not in have]
    if added and min(added) != len(have):
        raise ValueError(f"init weights hold low convs {sorted(have)}; only appending after them is supported")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not key.startswith("low.") for key in missing):
        raise ValueError(f"init weights do not fit this network: missing {missing}, unexpected {unexpected}")
    with torch.no_grad():
        for i in added:
            torch.nn.init.dirac_(model.low[i].weight)
            torch.nn.init.zeros_(model.low[i].bias)
    return len(added)


def _train_photos(args: argparse.Namespace) -> list[np.ndarray]:
    if args.photos is not None:
        return list(unpack(args.photos).values())[: 2 if args.smoke else None]
    return list(load_set("train", limit=2 if args.smoke else None).values())


def _loader(args: argparse.Namespace) -> torch.utils.data.DataLoader:  # type: ignore[type-arg]
    batches = DejpegBatches(
        _train_photos(args),
        args.patch,
        args.batch_size,
        args.seed,
        scales=args.scales,
        quality_range=(args.quality_range[0], args.quality_range[1]),
    )
    workers = args.workers
    return torch.utils.data.DataLoader(
        batches,
        batch_size=None,
        num_workers=workers,
        pin_memory=args.device.startswith("cuda"),
        prefetch_factor=4 if workers else None,
        persistent_workers=workers > 0,
    )


def train(args: argparse.Namespace) -> dict[str, object]:
    """The training loop; returns a summary (also written as ``train_summary.json`` beside the weights)."""
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = device.type == "cuda"
    batches = iter(_loader(args))  # worker processes start here, before CUDA is initialised in this one
    model = DejpegRestorer(**args.hp)
    if args.init is not None:
        load_init(model, torch.load(args.init, weights_only=True))
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    args.out.mkdir(parents=True, exist_ok=True)
    start, recent, step = time.perf_counter(), torch.zeros((), device=device), 0
    for (x, q), target in batches:
        elapsed = time.perf_counter() - start
        progress = _progress(args, step + 1, elapsed)
        if (args.minutes is None and step >= args.steps) or progress >= 1.0:
            break
        step += 1
        for group in opt.param_groups:
            group["lr"] = cosine_lr(args.lr, progress)
        x, q, target = (t.to(device, non_blocking=True) for t in (x, q, target))
        loss = (warmup_loss_fn if step <= args.warmup_steps else loss_fn)(model(x, q), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        recent += loss.detach()
        if step % LOG_EVERY == 0:
            print(
                f"step {step} loss {recent.item() / LOG_EVERY:.5f} lr {opt.param_groups[0]['lr']:.2e} "
                f"{elapsed / step:.4f} s/step {elapsed / 60:.1f} min",
                flush=True,
            )
            recent.zero_()
        if step % args.checkpoint_every == 0:
            save_state_dict(model.state_dict(), args.out / f"dejpeg_q_step{step}.pt")
    model.eval()
    save_state_dict(model.state_dict(), args.out / FINAL_NAME)
    summary = _summary(args, model, step, (time.perf_counter() - start) / 60)
    (args.out / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _summary(args: argparse.Namespace, model: torch.nn.Module, steps: int, minutes: float) -> dict[str, object]:
    return {
        "architecture": "DejpegRestorer",
        "hp": args.hp,
        "params": sum(p.numel() for p in model.parameters()),
        "steps": steps,
        **({"minutes_budget": args.minutes} if args.minutes is not None else {}),
        **({"init": str(args.init)} if args.init is not None else {}),
        "batch_size": args.batch_size,
        "patch": args.patch,
        "lr": args.lr,
        "device": args.device if args.device == "cpu" else _device_name(args.device),
        "workers": args.workers,
        "threads": args.threads,
        "seed": args.seed,
        "quality_range": list(args.quality_range),
        "scales": list(args.scales),
        "loss": f"L1 + {LUMA_WEIGHT:g} x L1 of luma (BT.601); the first {args.warmup_steps} steps MSE + "
        f"{LUMA_WEIGHT:g} x MSE of luma",
        "minutes": round(minutes, 2),
        "seconds_per_step": round(minutes * 60 / max(steps, 1), 4),
        "torch": torch.__version__,
    }


def _device_name(device: str) -> str:
    return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"


def training_record(summary: dict[str, Any], *, smoke: bool) -> dict[str, Any]:
    """How one network was trained, from its training summary (the manifest's ``training``)."""
    steps, lr = int(summary["steps"]), float(summary["lr"])
    return {
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
        "device": summary.get("device", "cpu"),
        "workers": summary.get("workers", 0),
        "threads": summary["threads"],
        **({"minutes_budget": summary["minutes_budget"]} if "minutes_budget" in summary else {}),
        "seconds": round(float(summary["minutes"]) * 60, 1),
        "torch": summary.get("torch", torch.__version__),
        "smoke": smoke,
    }


def continuation_record(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``training`` of a network trained in several runs, each from the last one's weights (``--init``)."""
    return {
        "data": runs[-1]["data"],
        "files": sorted({name for run in runs for name in run["files"]}),
        "runs": runs,
        "steps": sum(int(run["steps"]) for run in runs),
        "seconds": round(sum(float(run["seconds"]) for run in runs), 1),
        "smoke": any(run["smoke"] for run in runs),
    }


def manifest_entry(weights: Path, training: dict[str, Any], *, smoke: bool) -> dict[str, Any]:
    """The weights manifest's record of a trained file, as `lumaflow.build.training` writes one for a recipe: how it
    was made (``training``) and what it scored on the validation photos, told each file's quality."""
    descriptor = load_file(str(weights))  # proves the file round-trips through the registry
    model = descriptor.model
    report = evaluate_dejpeg(model, load_set("validation", limit=2 if smoke else None))
    macs = model.macs_per_input_pixel() if isinstance(model, DejpegRestorer) else float("nan")
    return {
        "file": weights.name,
        "sha256": sha256_file(weights),
        "architecture": descriptor.architecture,
        "hyperparameters": dict(descriptor.hyperparameters),
        "params": sum(p.numel() for p in model.parameters()),
        "gflop_320x240": round(2 * macs * 320 * 240 / 1e9, 3),
        "training": training,
        "eval": report.as_dict(),
    }


def _training(args: argparse.Namespace, summary: dict[str, Any]) -> dict[str, Any]:
    """The ``training`` record of the file to serve: this run's, after ``--continued-from``'s runs (read from the
    manifest beside those weights, which must be the ones it describes)."""
    record = training_record(summary, smoke=args.smoke)
    if args.continued_from is None:
        return record
    manifest = args.continued_from.parent / "manifest.json"
    entry = json.loads(manifest.read_text())["networks"].get(NAME, {}) if manifest.is_file() else {}
    if entry.get("sha256") != sha256_file(args.continued_from):
        raise SystemExit(f"{args.continued_from}: not the network its folder's manifest describes")
    earlier = entry["training"].get("runs", [entry["training"]])
    return continuation_record([*earlier, record])


def main(argv: list[str] | None = None) -> int:
    """Train, then write ``dejpeg.pt`` and its manifest entry into ``--out`` (``lumaflow train dejpeg``)."""
    args = parse_args(argv)
    if args.adopt is not None:
        final = args.adopt
        summary = json.loads((final.parent / SUMMARY).read_text())
    else:
        summary = train(args)
        final = args.out / FINAL_NAME
        if args.train_only:
            print(f"trained for {summary['minutes']} min, {summary['steps']} steps -> {final}", flush=True)
            return 0
    training = _training(args, summary)
    weights = save_state_dict(torch.load(final, weights_only=True), args.out / f"{NAME}.pt")
    entry = manifest_entry(weights, training, smoke=args.smoke)
    update_manifest(args.out, NAME, entry)
    for key, result in entry["eval"].items():
        print(f"{key}: mean gain {result['mean_gain']:+.2f} dB on the validation photos")
    print(f"{NAME}: {entry['training']['seconds']:.0f} s of training -> {weights}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
