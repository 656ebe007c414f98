"""The served pixel interface around a float model: uint8 NHWC RGB in, uint8 NHWC RGB out.

Triton's `espcn_x2` stage takes and returns raw uint8 frames, so the float conversion, clamping and
rounding live inside the exported graph instead of in every client.
"""

from __future__ import annotations

from typing import Protocol, cast, runtime_checkable

import torch
from torch import nn


@runtime_checkable
class SubPixel(Protocol):
    """A model whose output is a pixel shuffle by ``scale`` of phases it can give in (py, px, colour) order."""

    scale: int

    def interleaved_phases(self, x: torch.Tensor) -> torch.Tensor: ...


class PixelsGraph(nn.Module):
    """uint8 [N, H, W, C] -> model on float NCHW in [0, 1] -> uint8 [N, sH, sW, C]."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.sub_pixel = isinstance(model, SubPixel)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels.permute(0, 3, 1, 2).to(torch.float32) / 255.0
        if not self.sub_pixel:
            return _to_uint8(self.model(x)).permute(0, 2, 3, 1)
        # A sub-pixel model (ESPCN): its phases in (py, px, colour) order, made uint8 at input size, then
        # one axis move [N, H, W, py, px*C] -> [N, H, py, W, px*C] is the upscaled NHWC frame. Rounding
        # commutes with a permutation, so this equals the shuffle path bit for bit, at a quarter of the bytes
        # moved; on a 320x240 camera frame it took 12.3 ms against 14.8 ms (ONNX Runtime, 2 threads).
        model = cast(SubPixel, self.model)
        phases = _to_uint8(model.interleaved_phases(x).permute(0, 2, 3, 1))
        n, h, w, planes = phases.shape
        scale = model.scale
        moved = phases.reshape(n, h, w, scale, planes // scale).permute(0, 1, 3, 2, 4)
        return moved.reshape(n, h * scale, w * scale, planes // (scale * scale))


class JpegQualityPixelsGraph(nn.Module):
    """The served interface of a restorer told the JPEG quality: uint8 ``PIXELS`` [N, H, W, 3] + float32
    ``JPEG_QUALITY`` [N, 1] (1-100, one per image, so a batch can mix qualities) -> uint8 [N, H, W, 3]."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
        x = pixels.permute(0, 3, 1, 2).to(torch.float32) / 255.0
        return _to_uint8(self.model(x, quality.to(torch.float32))).permute(0, 2, 3, 1)


def _to_uint8(y: torch.Tensor) -> torch.Tensor:
    # Round before the cast: a bare cast truncates, which darkens every pixel by ~0.5 on average.
    return torch.round(y.clamp(0.0, 1.0) * 255.0).to(torch.uint8)


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
