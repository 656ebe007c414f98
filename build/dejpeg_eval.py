"""The de-JPEG network's held-out evaluation, told each file's quality as the server tells it.

    python -m lumaflow.build.dejpeg_eval build/weights/dejpeg.pt OTHER.pt --transposed-view --json out.json

compares candidate weights on the validation photos (the choice of docs/quality.md's de-JPEG table), each also
averaged over the photo and its transpose with ``--transposed-view``, and the mean of them all with ``--mean``
(both twice the cost of one network or more).

Each photo is saved by Pillow at the quality (4:2:0), decoded, and restored through the served uint8 graph
(`lumaflow.build.pixels.JpegQualityPixelsGraph`) with the quality read back from the file's own tables
(`lumaflow.runtime.jpeg_quality`); scores are Y-PSNR (BT.601, border 1) against the original. The photos are a
set's (`lumaflow.build.photo_sets`): validation when the network is trained, to choose the checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lumaflow.build.dejpeg_data import jpeg_with_quality
from lumaflow.build.eval import y_psnr
from lumaflow.build.pixels import JpegQualityPixelsGraph
from lumaflow.build.registry import load_file

EVAL_QUALITIES: tuple[int, ...] = (10, 20, 30, 50, 90)


def restore(model: torch.nn.Module, pixels: np.ndarray, quality: float) -> np.ndarray:
    graph = JpegQualityPixelsGraph(model).eval()
    with torch.inference_mode():
        out = graph(torch.from_numpy(np.array(pixels))[None], torch.tensor([[quality]]))
    return out[0].numpy()


class DejpegReport:
    """Per quality: each photo's Y-PSNR of the JPEG and of the network, and the mean gain."""

    def __init__(self, scores: dict[int, dict[str, tuple[float, float]]]) -> None:
        self.scores = scores

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for quality, photos in self.scores.items():
            gains = [model - jpeg for jpeg, model in photos.values()]
            result[f"q{quality}"] = {
                "metric": f"Y-PSNR dB (BT.601, border 1), Pillow JPEG 4:2:0 (q{quality}), told the quality",
                "photos": {n: {"model": round(m, 3), "input": round(j, 3)} for n, (j, m) in photos.items()},
                "mean_gain": round(float(np.mean(gains)), 3),
            }
        return result

    def lines(self) -> list[str]:
        return [f"{key}: mean gain {entry['mean_gain']:+.2f} dB" for key, entry in self.as_dict().items()]


def evaluate_dejpeg(model: nn.Module, photos: dict[str, np.ndarray]) -> DejpegReport:
    """The network against the JPEG on `photos` at each of `EVAL_QUALITIES`."""
    scores: dict[int, dict[str, tuple[float, float]]] = {}
    for quality in EVAL_QUALITIES:
        scores[quality] = {}
        for name, photo in photos.items():
            clean = photo[: photo.shape[0] // 2 * 2, : photo.shape[1] // 2 * 2]
            jpeg, told = jpeg_with_quality(clean, quality)
            restored = restore(model, jpeg, told)
            scores[quality][name] = (y_psnr(jpeg, clean, 1), y_psnr(restored, clean, 1))
    return DejpegReport(scores)


class TransposedView(nn.Module):
    """A restorer averaged over the photo and its transpose (which keeps the JPEG's 8 x 8 grid where it was)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
        flipped = self.model(x.transpose(-1, -2), quality).transpose(-1, -2)
        return (self.model(x, quality) + flipped) / 2


class MeanOf(nn.Module):
    """The mean output of several restorers told the quality (an ensemble)."""

    def __init__(self, models: list[nn.Module]) -> None:
        super().__init__()
        self.models = nn.ModuleList(models)

    def forward(self, x: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
        return torch.stack([model(x, quality) for model in self.models]).mean(0)


def _candidates(paths: list[Path], transposed: bool, mean: bool) -> dict[str, nn.Module]:
    loaded = {str(path): load_file(str(path)).model.eval() for path in paths}
    models: dict[str, nn.Module] = {}
    for name, model in loaded.items():
        models[name] = model
        if transposed:
            models[f"{name} (transposed view)"] = TransposedView(model).eval()
    if mean:
        models["mean of " + " and ".join(loaded)] = MeanOf(list(loaded.values())).eval()
    return models


def main(argv: list[str] | None = None) -> int:
    from lumaflow.build.benchmark_report import bootstrap_interval
    from lumaflow.build.photo_sets import SETS, load_set

    p = argparse.ArgumentParser(prog="dejpeg_eval", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("weights", type=Path, nargs="+")
    p.add_argument("--transposed-view", action="store_true", help="also each one over the photo and its transpose")
    p.add_argument("--mean", action="store_true", help="also the mean of all the given networks")
    p.add_argument("--set", choices=SETS, default="validation")
    p.add_argument("--json", type=Path, help="write every photo's scores here")
    args = p.parse_args(argv)
    photos = load_set(args.set)
    results: dict[str, Any] = {"set": args.set, "photos_n": len(photos), "candidates": {}}
    for name, model in _candidates(args.weights, args.transposed_view, args.mean).items():
        report = evaluate_dejpeg(model, photos).as_dict()
        results["candidates"][name] = report
        for key, entry in report.items():
            gains = [p["model"] - p["input"] for p in entry["photos"].values()]
            low, high = bootstrap_interval(gains)
            print(f"{name} {key}: {entry['mean_gain']:+.3f} dB [{low:+.2f}, {high:+.2f}] over {len(gains)} photos")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
