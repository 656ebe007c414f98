"""Bicubic upsampling as a fixed convolution: replicate pad, depthwise conv, pixel shuffle.

Equal to ``F.interpolate(mode="bicubic", align_corners=False)`` (Keys' cubic, a = -0.75, edges
clamped), but exported as Pad + Conv + DepthToSpace, which ONNX Runtime and TensorRT run as
fast convolutions. ONNX Runtime's cubic ``Resize`` took 94 of 150 ms of the whole x2 network on
a 256x256 input here (2 cores), more than all the learned convolutions together.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

KEYS_A = -0.75  # PyTorch's (and OpenCV's) bicubic coefficient


def _keys(distance: float, a: float = KEYS_A) -> float:
    x = abs(distance)
    if x <= 1:
        return (a + 2) * x**3 - (a + 3) * x**2 + 1
    if x < 2:
        return a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
    return 0.0


def phase_taps(scale: int) -> torch.Tensor:
    """[scale, 2 * reach + 1] weights: output phase p reads input offsets -reach..reach.

    With half-pixel centres, output pixel ``scale * k + p`` samples input coordinate
    ``k + (p + 0.5) / scale - 0.5``, whose four nearest input pixels get Keys' weights.
    """
    reach = 2
    taps = torch.zeros(scale, 2 * reach + 1, dtype=torch.float64)
    for phase in range(scale):
        position = (phase + 0.5) / scale - 0.5
        for offset in range(-reach, reach + 1):
            taps[phase, offset + reach] = _keys(position - offset)
    return taps


class BicubicUpsample(nn.Module):
    """x``scale`` bicubic upsampling of NCHW images with fixed (non-learned, non-saved) weights."""

    def __init__(self, scale: int, channels: int) -> None:
        super().__init__()
        self.scale = scale
        self.channels = channels
        taps = phase_taps(scale)
        # Kernel for phase (py, px) is the outer product of the 1D taps; channels grouped, phases
        # ordered as PixelShuffle expects (channel-major, then py, then px).
        kernels = torch.einsum("ai,bj->abij", taps, taps).reshape(scale * scale, 1, taps.shape[1], taps.shape[1])
        weight = kernels.repeat(channels, 1, 1, 1).to(torch.float32)
        # persistent=False: the weights are a formula, not part of any state dict we load or save.
        self.weight: torch.Tensor
        self.register_buffer("weight", weight, persistent=False)
        # The same kernels as one dense conv whose outputs are ordered (py, px, channel): see
        # `interleaved_phases`. Output (py, px, c) reads input channel c only.
        dense = torch.zeros(scale * scale, channels, channels, *kernels.shape[2:], dtype=torch.float32)
        for channel in range(channels):
            dense[:, channel, channel] = kernels[:, 0]
        self.interleaved_weight: torch.Tensor
        self.register_buffer("interleaved_weight", dense.flatten(0, 1), persistent=False)
        self.pad = taps.shape[1] // 2

    def phases(self, x: torch.Tensor) -> torch.Tensor:
        """The ``scale``² sub-pixel phases per channel, in PixelShuffle's order, before the shuffle.

        A network with its own sub-pixel residual adds it here and shuffles once: a shuffle is a pure
        permutation, so shuffle(a) + shuffle(b) == shuffle(a + b) bit for bit, and each shuffle is a
        full-resolution copy (about a tenth of a small camera network's time on the CPU).
        """
        padded = F.pad(x, (self.pad, self.pad, self.pad, self.pad), mode="replicate")
        return F.conv2d(padded, self.weight, groups=self.channels)

    def interleaved_phases(self, x: torch.Tensor) -> torch.Tensor:
        """``phases`` with channels ordered (py, px, channel) instead of PixelShuffle's (channel, py, px).

        In that order an NHWC frame is [N, H, W, py, px, C], one axis move from [N, H, py, W, px, C],
        the upscaled NHWC frame: the served uint8 graph (`PixelsGraph`) shuffles that way, where
        ONNX Runtime's DepthToSpace was the costliest node of a small camera network after its convs.
        """
        padded = F.pad(x, (self.pad, self.pad, self.pad, self.pad), mode="replicate")
        return F.conv2d(padded, self.interleaved_weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.phases(x), self.scale)
