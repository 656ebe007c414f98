"""`lumaflow train <network>`: train one of our own networks on the train photos and record it.

    lumaflow train dejpeg                            # the committed weights (minutes on 2 cores)
    lumaflow train dejpeg --smoke --out /tmp/w      # seconds, for CI

Every network is a `Recipe`: its architecture and hyper-parameters, how its inputs are degraded
from real photos, its training schedule and its held-out evaluation. One loop trains them all,
from a given seed, so the committed weights can be reproduced (bit for bit on one thread; on two,
torch's CPU kernels may sum in a varying order, as the looks network's do: docs/training.md);
the weights manifest records how each file was made and what it scored.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from lumaflow.build import WEIGHTS_DIR
from lumaflow.build.artifacts import save_state_dict, sha256_file, update_manifest
from lumaflow.build.photos import (
    WALLPAPER_PACKAGE,
    WALLPAPER_ROOT,
    MissingPhotosError,
    load_rgb,
    resize_long_side,
    wallpaper_photo_paths,
)
from lumaflow.build.registry import ModelDescriptor, load_file
from lumaflow.build.sr_data import Degrade, Pair, PatchSampler, make_pairs


class Report(Protocol):
    def as_dict(self) -> dict[str, object]: ...

    def lines(self) -> list[str]: ...


class Sampler(Protocol):
    """Training batches: (network input, or a tuple of inputs; target), float tensors."""

    def batch(self, n: int) -> tuple[torch.Tensor | tuple[torch.Tensor, ...], torch.Tensor]: ...


PairMaker = Callable[[list[np.ndarray], tuple[float, ...], int], list[Pair]]
# A sampler over the photos (already at the source scales): for networks that are not image-to-image
# restorers of an aligned pair (the assessors' labelled crops, the inpainter's masked patches).
SamplerMaker = Callable[[list[np.ndarray], int, np.random.Generator], Sampler]
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class FineTune:
    """A second training phase: the first phase's model, grown into ``grow(model)``, trained on other batches.

    The quality score learns per crop first (many cheap samples), then per photo (a photo's crops
    at once), which would take far longer to learn from scratch. The grown model's
    ``pretrained_parameters()`` train at ``pretrained_lr``, the rest at ``lr``.
    """

    description: str  # what the batches are, for the manifest
    grow: Callable[[nn.Module], nn.Module]
    make_sampler: SamplerMaker
    steps: int
    batch_size: int
    lr: float
    pretrained_lr: float
    loss: Loss


@dataclass(frozen=True)
class Recipe:
    """How one of our networks is made: everything `lumaflow train NAME` needs and records."""

    name: str
    make_model: Callable[[], nn.Module]
    factor: int  # output size / input size
    degradation: str  # what the inputs are, for the manifest
    evaluate: Callable[[ModelDescriptor], Report]
    steps: int
    batch_size: int
    patch: int  # target (HR) patch side
    lr: float = 2e-3
    scales: tuple[float, ...] = (0.5, 0.33)
    # Non-empty: learn from the whole train photo set (lumaflow.build.photo_sets) with each photo at these long
    # sides, instead of from the wallpapers at ``scales``.
    long_sides: tuple[int, ...] = ()
    degrade: Degrade | None = None
    make_pairs: PairMaker | None = None  # default: bicubic /factor of each photo at each scale
    # Extra weight on the L1 of BT.601 luma: JPEG hides most of its damage in chroma, which an RGB L1
    # then spends the network on, while sharpness (and Y-PSNR) lives in luma.
    luma_weight: float = 0.0
    make_sampler: SamplerMaker | None = None  # instead of pairs + PatchSampler
    loss: Loss | None = None  # instead of the L1 (+ luma) of an image restorer
    loss_description: str = ""
    then: FineTune | None = None

    @property
    def loss_name(self) -> str:
        if self.loss is not None:
            return self.loss_description
        return f"L1 + {self.luma_weight:g} x L1 of luma (BT.601)" if self.luma_weight else "L1"


LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)


def recipe_loss(recipe: Recipe, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if recipe.loss is not None:
        return recipe.loss(output, target)
    loss = torch.nn.functional.l1_loss(output, target)
    if recipe.luma_weight:
        weights = LUMA.to(output.device)
        luma = (output * weights).sum(1) - (target * weights).sum(1)
        loss = loss + recipe.luma_weight * luma.abs().mean()
    return loss


def parse_args(recipe: Recipe, argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog=f"lumaflow train {recipe.name}", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--steps", type=int, default=recipe.steps)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help=f"weights folder (default {WEIGHTS_DIR})")
    p.add_argument("--batch-size", type=int, default=recipe.batch_size)
    p.add_argument("--patch", type=int, default=recipe.patch, help="target patch side")
    p.add_argument("--lr", type=float, default=recipe.lr, help="peak learning rate (cosine to 1%%)")
    p.add_argument("--scales", help=f"source downscales of each photo (default {','.join(map(str, recipe.scales))})")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--device", default="cpu", help="torch device to train on (cuda where one is lent); evaluation runs on the CPU"
    )
    p.add_argument("--wallpapers", type=Path, help=f"the wallpapers folder (default {WALLPAPER_ROOT})")
    p.add_argument("--smoke", action="store_true", help="a few steps on two photos; needs --out")
    args = p.parse_args(argv)
    if recipe.long_sides and (args.scales or args.wallpapers):
        sides = ", ".join(map(str, recipe.long_sides))
        p.error(f"{recipe.name} learns from the train photo set at {sides} px: --scales and --wallpapers do not apply")
    args.scales = args.scales or ",".join(map(str, recipe.scales))
    args.wallpapers = args.wallpapers or WALLPAPER_ROOT
    multiple = 2 * recipe.factor  # the half-resolution restorers need even input patches
    if args.patch % multiple or args.patch < 8 * recipe.factor:
        p.error(f"--patch must be a multiple of {multiple} and >= {8 * recipe.factor}")
    if args.smoke:
        if args.out is None:
            p.error("--smoke needs --out, so it cannot overwrite the committed weights")
        args.steps = min(args.steps, 20)
        args.batch_size = min(args.batch_size, 4)
        args.patch = min(args.patch, 16 * recipe.factor)
    if args.out is None:
        args.out = WEIGHTS_DIR
    return args


def fit(
    model: nn.Module,
    sampler: Sampler,
    args: argparse.Namespace,
    recipe: Recipe,
    *,
    loss_fn: Loss | None = None,
    param_groups: list[dict[str, Any]] | None = None,
    desc: str | None = None,
) -> float:
    """Adam + the recipe's loss with a cosine schedule; returns the mean loss over the last 10% of steps.

    ``args`` gives steps, batch size, peak lr and device; ``loss_fn`` and ``param_groups`` (each
    with its own peak lr) replace the recipe's loss and the single lr, for a `FineTune` phase.
    """
    opt = torch.optim.Adam(param_groups if param_groups is not None else model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(args.steps, 1), eta_min=args.lr * 0.01)
    tail: list[float] = []
    device = torch.device(args.device)
    model.to(device).train()
    bar = tqdm(range(args.steps), desc=desc or recipe.name, mininterval=2.0, file=sys.stderr)
    for step in bar:
        inputs, targets = sampler.batch(args.batch_size)
        if device.type != "cpu":
            inputs = tuple(x.to(device) for x in inputs) if isinstance(inputs, tuple) else inputs.to(device)
            targets = targets.to(device)
        output = model(*inputs) if isinstance(inputs, tuple) else model(inputs)
        loss = loss_fn(output, targets) if loss_fn is not None else recipe_loss(recipe, output, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step >= args.steps * 0.9:
            tail.append(loss.item())
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}")
    model.cpu().eval()
    return float(np.mean(tail)) if tail else math.nan


def _device_name(device: str) -> str:
    return torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else device


def _gflop_320x240(model: nn.Module) -> float:
    macs = getattr(model, "macs_per_input_pixel", None)
    return round(2 * macs() * 320 * 240 / 1e9, 3) if callable(macs) else math.nan


def train(recipe: Recipe, argv: list[str] | None = None) -> int:
    args = parse_args(recipe, argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    try:
        images, scales, source = _sources(recipe, args)
    except MissingPhotosError as e:
        print(f"lumaflow train: {e}", file=sys.stderr)
        return 2

    started = time.perf_counter()
    sampler: Sampler
    photos: list[np.ndarray] = []  # the photos at the source scales, for samplers that take them
    if recipe.make_sampler is not None:
        photos = [pair.hr for pair in make_pairs(images, scales, 1)]
        sampler = recipe.make_sampler(photos, args.patch, rng)
    else:
        pair_maker = recipe.make_pairs or make_pairs
        pairs = pair_maker(images, scales, recipe.factor)
        sampler = PatchSampler(pairs, args.patch // recipe.factor, rng, factor=recipe.factor, degrade=recipe.degrade)
    model = recipe.make_model()
    loss = fit(model, sampler, args, recipe)
    then_record: dict[str, Any] | None = None
    if recipe.then is not None:
        model, then_record = _fine_tune(recipe, recipe.then, model, photos, args, rng)
    seconds = time.perf_counter() - started

    weights = save_state_dict(model.state_dict(), args.out / f"{recipe.name}.pt")
    descriptor = load_file(str(weights))  # proves the file round-trips through the registry
    report = recipe.evaluate(descriptor)
    entry: dict[str, Any] = {
        "file": weights.name,
        "sha256": sha256_file(weights),
        "architecture": descriptor.architecture,
        "hyperparameters": dict(descriptor.hyperparameters),
        "params": sum(p.numel() for p in model.parameters()),
        "gflop_320x240": _gflop_320x240(model),
        "training": {
            **source,
            "degradation": recipe.degradation,
            "steps": args.steps,
            "batch_size": args.batch_size,
            "patch": args.patch,
            "optimizer": f"Adam lr {args.lr:g}, cosine to {args.lr * 0.01:g}",
            "loss": recipe.loss_name,
            "final_loss": round(loss, 5),
            "seed": args.seed,
            "threads": args.threads,
            "device": args.device if args.device == "cpu" else f"{args.device} ({_device_name(args.device)})",
            "seconds": round(seconds, 1),
            "torch": torch.__version__,
            "smoke": args.smoke,
            **({"then": then_record} if then_record is not None else {}),
        },
        "eval": report.as_dict(),
    }
    update_manifest(args.out, recipe.name, entry)
    for line in report.lines():
        print(line)
    print(f"trained {recipe.name} in {seconds:.0f} s -> {weights}")
    return 0


def _sources(recipe: Recipe, args: argparse.Namespace) -> tuple[list[np.ndarray], tuple[float, ...], dict[str, Any]]:
    """The photos a recipe learns from, the scales to take them at, and how the manifest names them."""
    if recipe.long_sides:
        sides = recipe.long_sides[:1] if args.smoke else recipe.long_sides
        images, files = train_set_photos(sides, limit=2 if args.smoke else None)
        data = {"data": "the train photo set (lumaflow.build.photo_sets)", "files": files}
        return images, (1.0,), {**data, "source_long_sides": list(sides)}
    try:
        paths = wallpaper_photo_paths(args.wallpapers)
    except MissingPhotosError as e:
        raise MissingPhotosError(f"{e}: apt-get install {WALLPAPER_PACKAGE}") from e
    scales = tuple(float(s) for s in args.scales.split(","))
    if args.smoke:
        paths, scales = paths[:2], scales[:1]
    files = [str(p.relative_to(args.wallpapers)) for p in paths]
    source = {"data": f"{WALLPAPER_PACKAGE} photos", "files": files, "source_scales": list(scales)}
    return [load_rgb(p) for p in paths], scales, source


def train_set_photos(sides: Sequence[int], limit: int | None = None) -> tuple[list[np.ndarray], list[str]]:
    """The train photo set (its first ``limit``) with each photo at each long side, and the photos' names: what a
    recipe with ``long_sides`` learns from (``lumaflow.build.looks_refit`` too)."""
    from lumaflow.build.photo_sets import DEBIAN_PACKAGES, load_set

    try:
        named = load_set("train", limit=limit)
    except MissingPhotosError as e:
        raise MissingPhotosError(f"{e}: apt-get install {' '.join(DEBIAN_PACKAGES)}") from e
    return [resize_long_side(image, side) for image in named.values() for side in sides], list(named)


def _fine_tune(
    recipe: Recipe,
    phase: FineTune,
    model: nn.Module,
    photos: list[np.ndarray],
    args: argparse.Namespace,
    rng: np.random.Generator,
) -> tuple[nn.Module, dict[str, Any]]:
    """Run ``phase`` on the first phase's model; returns the grown model and what the manifest records."""
    grown = phase.grow(model)
    pretrained = list(grown.pretrained_parameters())  # type: ignore[operator]
    known = {id(p) for p in pretrained}
    fresh = [p for p in grown.parameters() if id(p) not in known]
    steps = min(phase.steps, args.steps) if args.smoke else phase.steps
    batch_size = min(phase.batch_size, 2) if args.smoke else phase.batch_size
    phase_args = argparse.Namespace(**{**vars(args), "steps": steps, "batch_size": batch_size, "lr": phase.lr})
    groups = [{"params": pretrained, "lr": phase.pretrained_lr}, {"params": fresh, "lr": phase.lr}]
    sampler = phase.make_sampler(photos, args.patch, rng)
    loss = fit(
        grown, sampler, phase_args, recipe, loss_fn=phase.loss, param_groups=groups, desc=f"{recipe.name} (then)"
    )
    record = {
        "batches": phase.description,
        "steps": steps,
        "batch_size": batch_size,
        "optimizer": f"Adam lr {phase.lr:g} (pretrained parts {phase.pretrained_lr:g}), cosine to {phase.lr * 0.01:g}",
        "final_loss": round(loss, 5),
    }
    return grown, record


DEJPEG = "dejpeg"


def main(name: str, argv: list[str] | None = None) -> int:
    from lumaflow.build.recipes import RECIPES

    if name == DEJPEG:  # told the JPEG quality, from the photo sets: a loop of its own (build/train_dejpeg.py)
        from lumaflow.build.train_dejpeg import main as train_dejpeg

        return train_dejpeg(argv)
    if name not in RECIPES:
        known = ", ".join((*RECIPES, DEJPEG))
        print(f"lumaflow train: unknown network {name!r}; known: {known}", file=sys.stderr)
        return 2
    return train(RECIPES[name], argv)
