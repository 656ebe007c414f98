"""Refit one look of the trained looks network to its recipe, leaving every other look as it was.

    python -m lumaflow.build.looks_refit kodachrome_60s --out DIR   # DIR/looks.pt and DIR/manifest.json

Why: a look's recipe changed (``lumaflow.build.gradings``), and a full retrain moves every look: a seed's
spread alone decides whether some other pair of looks comes under 3 ΔE on a saturated close-up (issue 30, a
retrain on kodachrome_60s's new recipe parted its pairs and brought two others closer). What a look alone owns
in ``LookNet`` is its basis LUTs (``luts[t]``), its rows of the ``weights`` and ``curves`` heads and its
averages in ``mean_weights`` and ``mean_curves`` (the fixed-LUT baseline): the thumbnail CNN and the hidden
layer are shared. So only those are trained, from the network's own values (a warm start), on the training
recipe's crops and loss (``LooksSampler``, ``looks_loss``) with the look first in every pair; the other
looks' values are restored afterwards and checked bit for bit. The served push apart still measures every
look against its neighbours, so a refit look can change which neighbours another look is pushed from: the
looks' checks (``looks distinct``, ``assess looks``) are run after, as after a retrain. Bit for bit reproducible
with ``--threads 1`` only: on two threads torch's CPU kernels sum in a varying order (docs/training.md).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lumaflow.build import WEIGHTS_DIR
from lumaflow.build.arch.lut import CURVE, LookNet
from lumaflow.build.artifacts import MANIFEST_NAME, save_state_dict, sha256_file, update_manifest
from lumaflow.build.looks import LooksSampler, load_looknet
from lumaflow.build.recipes import RECIPES
from lumaflow.build.registry import load_file
from lumaflow.build.training import fit, train_set_photos
from lumaflow.ensemble.looks import TEMPLATE_NAMES

NAME = "looks"
# 8 of a batch's 16 crops go to the refit look: 1 500 steps are 12 000 of its crops, about three times what
# it sees in the full training's 12 000 steps (16 x 12 000 / 62), from a warm start.
STEPS = 1500
BATCH_SIZE = 16
LR = 2e-3  # the full training's peak rate, cosine to 1 %


class OneLookSampler(LooksSampler):
    """The training recipe's pairs of graded crops, with ``look`` first in every pair."""

    def __init__(self, images: Sequence[np.ndarray], patch: int, rng: np.random.Generator, look: int) -> None:
        super().__init__(images, patch, rng)
        self.look = look

    def first_looks(self, n: int) -> np.ndarray:
        return np.full(n, self.look, dtype=np.int64)


def owned_rows(model: LookNet, look: int) -> dict[str, tuple[slice, ...]]:
    """Each state-dict entry a look alone owns, with the index of its part there."""
    basis = slice(look * model.basis, (look + 1) * model.basis)
    curve = slice(look * CURVE, (look + 1) * CURVE)
    return {
        "luts": (slice(look, look + 1),),
        "weights.weight": (basis,),
        "weights.bias": (basis,),
        "curves.weight": (curve,),
        "curves.bias": (curve,),
        "mean_weights": (slice(look, look + 1),),
        "mean_curves": (slice(look, look + 1),),
    }


def merged_state(
    before: dict[str, torch.Tensor], after: dict[str, torch.Tensor], model: LookNet, look: int
) -> dict[str, torch.Tensor]:
    """``before`` with the look's own parts taken from ``after``: every other value bit for bit as it was."""
    merged = {key: value.clone() for key, value in before.items()}
    for key, index in owned_rows(model, look).items():
        merged[key][index] = after[key][index]
    return merged


def refit(model: LookNet, sampler: LooksSampler, look: int, *, steps: int, batch_size: int, lr: float) -> float:
    """Train the look's own parameters (a gradient mask on the shared tensors, the rest frozen) in the training loop
    every network uses (``training.fit``: the recipe's loss, Adam, cosine to 1 %); returns the mean loss over the
    last 10 % of steps. The model is left in eval mode with only the look's parts changed."""
    before = {key: value.detach().clone() for key, value in model.state_dict().items()}
    owned = owned_rows(model, look)
    trained = {name: p for name, p in model.named_parameters() if name in owned}  # the rest of ``owned``: buffers
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    hooks = []
    for name, parameter in trained.items():
        parameter.requires_grad_(True)
        mask = torch.zeros_like(parameter)
        mask[owned[name]] = 1.0
        hooks.append(parameter.register_hook(mask.mul))
    settings = argparse.Namespace(steps=steps, batch_size=batch_size, lr=lr, device="cpu")
    loss = fit(
        model,
        sampler,
        settings,
        RECIPES[NAME],
        param_groups=[{"params": list(trained.values())}],
        desc=f"refit look {look}",
    )
    for hook in hooks:
        hook.remove()
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    model.load_state_dict(merged_state(before, model.state_dict(), model, look))
    return loss


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lumaflow.build.looks_refit", description=__doc__)
    p.add_argument("look", choices=TEMPLATE_NAMES, metavar="LOOK", help="the look whose recipe changed")
    p.add_argument("--weights", type=Path, default=WEIGHTS_DIR / "looks.pt", help="the trained network")
    p.add_argument("--out", type=Path, required=True, help="folder for looks.pt and manifest.json")
    p.add_argument("--steps", type=int, default=STEPS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    look = TEMPLATE_NAMES.index(args.look)
    model = load_looknet(args.weights)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    sampler = OneLookSampler(
        train_set_photos(RECIPES[NAME].long_sides)[0], RECIPES[NAME].patch, np.random.default_rng(args.seed), look
    )
    loss = refit(model, sampler, look, steps=args.steps, batch_size=BATCH_SIZE, lr=LR)
    seconds = time.perf_counter() - started
    weights = save_state_dict(model.state_dict(), args.out / f"{NAME}.pt")
    descriptor = load_file(str(weights))
    report = RECIPES[NAME].evaluate(descriptor)
    entry = _manifest_entry(args, weights, loss, seconds)
    entry["eval"] = report.as_dict()
    update_manifest(args.out, NAME, entry)
    for line in report.lines():
        print(line)
    print(f"refit {args.look} in {seconds:.0f} s -> {weights}")
    return 0


def _manifest_entry(args: argparse.Namespace, weights: Path, loss: float, seconds: float) -> dict[str, Any]:
    """The network's manifest entry (from the folder it was read from) with this refit added to its training."""
    entry: dict[str, Any] = json.loads((args.weights.parent / MANIFEST_NAME).read_text())["networks"][NAME]
    refits = [
        *entry["training"].get("refits", []),
        {
            "look": args.look,
            "from_sha256": entry["sha256"],  # the weights refit (the file this entry described before)
            "why": "the look's recipe changed (lumaflow.build.gradings); the other looks' values kept bit for bit",
            "steps": args.steps,
            "batch_size": BATCH_SIZE,
            "optimizer": f"Adam lr {LR:g}, cosine to {LR * 0.01:g}, the look's own parameters only",
            "final_loss": round(loss, 5),
            "seed": args.seed,
            "threads": args.threads,
            "seconds": round(seconds, 1),
            "torch": torch.__version__,
            "command": f"python -m lumaflow.build.looks_refit {args.look} --steps {args.steps} --seed {args.seed}",
        },
    ]
    return {**entry, "sha256": sha256_file(weights), "training": {**entry["training"], "refits": refits}}


if __name__ == "__main__":
    raise SystemExit(main())
