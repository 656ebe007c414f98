"""The de-JPEG network's held-out evaluation, told each file's quality as the server tells it.

Each photo is saved by Pillow at the quality (4:2:0), decoded, and restored through the served uint8 graph
(`lumaflow.build.pixels.JpegQualityPixelsGraph`) with the quality read back from the file's own tables
(`lumaflow.runtime.jpeg_quality`); scores are Y-PSNR (BT.601, border 1) against the original. The photos are a
set's (`lumaflow.build.photo_sets`): validation when the network is trained, to choose the checkpoint.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lumaflow.build.dejpeg_data import jpeg_with_quality
from lumaflow.build.eval import y_psnr
from lumaflow.build.pixels import JpegQualityPixelsGraph
from lumaflow.build.registry import ModelDescriptor

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


def evaluate_dejpeg(descriptor: ModelDescriptor, photos: dict[str, np.ndarray]) -> DejpegReport:
    """The network against the JPEG on `photos` at each of `EVAL_QUALITIES`."""
    scores: dict[int, dict[str, tuple[float, float]]] = {}
    for quality in EVAL_QUALITIES:
        scores[quality] = {}
        for name, photo in photos.items():
            clean = photo[: photo.shape[0] // 2 * 2, : photo.shape[1] // 2 * 2]
            jpeg, told = jpeg_with_quality(clean, quality)
            restored = restore(descriptor.model, jpeg, told)
            scores[quality][name] = (y_psnr(jpeg, clean, 1), y_psnr(restored, clean, 1))
    return DejpegReport(scores)
