"""The served pixel interface around a float model: uint8 NHWC RGB in, uint8 NHWC RGB out.

Triton's `espcn_x2` stage takes and returns raw uint8 frames, so the float conversion, clamping and
rounding live inside the exported graph instead of in every client.
"""

from __future__ import annotations

import torch
from torch import nn


class PixelsGraph(nn.Module):
    """uint8 [N, H, W, C] -> model on float NCHW in [0, 1] -> uint8 [N, sH, sW, C]."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels.permute(0, 3, 1, 2).to(torch.float32) / 255.0
        y = self.model(x).clamp(0.0, 1.0) * 255.0
        # Round before the cast: a bare cast truncates, which darkens every pixel by ~0.5 on average.
        return torch.round(y).to(torch.uint8).permute(0, 2, 3, 1)


class AveragedDown(nn.Module):
    """A model followed by ``factor`` x ``factor`` averaging: a xN restorer used at x1.

    waifu2x's JPEG-noise models exist only at x2; averaging each 2x2 block of their output back to
    the input's size keeps their artefact removal and is exact to export (AveragePool).
    """

    def __init__(self, model: nn.Module, factor: int) -> None:
        super().__init__()
        self.model = model
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.avg_pool2d(self.model(x), self.factor)
