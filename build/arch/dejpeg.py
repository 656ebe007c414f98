"""A de-JPEG restorer told the JPEG quality: two levels (1/2 and 1/4 resolution), predicting a residual.

The served ``deblock`` network (``ResidualRestorer`` 64 x 8, blind) runs every conv at half resolution and
sees 34 px around a pixel. At quality 10 a 4:2:0 JPEG's errors are 16 px macroblocks of chroma and
8 px blocks of luma, so this one spends half its convolutions a level lower, where they cost a quarter
and see four times as far, and gets the quality the file was saved at (``lumaflow.runtime.jpeg_quality``):

- the image is replicate-padded to a multiple of 4, PixelUnshuffled by 2 (12 planes at H/2 x W/2) and
  a constant plane ``quality / 100`` is appended;
- ``entry`` (13 -> features) and ``pre`` convs at 1/2; ``down``, a stride-2 conv (features -> low), then a
  scale and shift of each low channel computed from the quality (FiLM: ``film``, 1 -> 2 x low, starting
  at the identity), ``low`` convs at 1/4; ``up``, a 1x1 conv to 4 x features PixelShuffled back to 1/2 and
  added to the ``pre`` features; ``post`` convs; ``exit`` (features -> 12, starting at zero), shuffled to a
  full-size residual added to the input.

LeakyReLU(0.1) after every conv but ``up`` and ``exit``; He initialisation, as ``ResidualRestorer`` (a plain
stack with PyTorch's default init lost its signal). Input: float NCHW RGB in [0, 1] and quality [N, 1] in
1..100; output float NCHW RGB, same size, not clamped.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lumaflow.build.arch.residual import LEAKY_SLOPE

MULTIPLE = 4  # two factor-2 levels
QUALITY_SCALE = 100.0


def _stack(count: int, width: int) -> nn.ModuleList:
    return nn.ModuleList(nn.Conv2d(width, width, 3, padding=1) for _ in range(count))


class DejpegRestorer(nn.Module):
    """(RGB [N, 3, H, W] in [0, 1], quality [N, 1] in 1..100) -> restored RGB [N, 3, H, W]."""

    def __init__(
        self, *, features: int = 48, low_features: int = 96, pre: int = 2, low: int = 4, post: int = 2
    ) -> None:
        super().__init__()
        if min(pre, low, post) < 0 or min(features, low_features) < 1:
            raise ValueError("block counts must be >= 0 and widths >= 1")
        planes = 3 * 4
        self.features, self.low_features = features, low_features
        self.unshuffle = nn.PixelUnshuffle(2)
        self.shuffle = nn.PixelShuffle(2)
        self.entry = nn.Conv2d(planes + 1, features, 3, padding=1)
        self.pre = _stack(pre, features)
        self.down = nn.Conv2d(features, low_features, 3, stride=2, padding=1)
        self.film = nn.Linear(1, 2 * low_features)
        self.low = _stack(low, low_features)
        self.up = nn.Conv2d(low_features, 4 * features, 1)
        self.post = _stack(post, features)
        self.exit = nn.Conv2d(features, planes, 3, padding=1)
        for conv in (self.entry, *self.pre, self.down, *self.low, *self.post):
            nn.init.kaiming_normal_(conv.weight, a=LEAKY_SLOPE, nonlinearity="leaky_relu")
        # Start as the identity: zero residual, FiLM scale 1 and shift 0.
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.exit.weight)
        for bias in (*(c.bias for c in (self.entry, *self.pre, self.down, *self.low, *self.post)), self.up.bias):
            if bias is not None:
                nn.init.zeros_(bias)
        nn.init.zeros_(self.film.bias)
        if self.exit.bias is not None:
            nn.init.zeros_(self.exit.bias)

    def forward(self, x: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
        h, w, m = x.shape[-2], x.shape[-1], MULTIPLE
        # Pad by m - 1, then keep the largest multiple of m (no branch on the size: one graph for every H, W).
        base = F.pad(x, (0, m - 1, 0, m - 1), mode="replicate")[..., : (h + m - 1) // m * m, : (w + m - 1) // m * m]
        q = quality.reshape(-1, 1).to(x.dtype) / QUALITY_SCALE
        y = self.unshuffle(base)
        y = torch.cat((y, q[:, :, None, None].expand(-1, -1, y.shape[-2], y.shape[-1])), dim=1)
        y = F.leaky_relu(self.entry(y), LEAKY_SLOPE)
        for conv in self.pre:
            y = F.leaky_relu(conv(y), LEAKY_SLOPE)
        film = self.film(q)
        scale, shift = film[:, : self.low_features, None, None], film[:, self.low_features :, None, None]
        z = F.leaky_relu(self.down(y), LEAKY_SLOPE) * (1.0 + scale) + shift
        for conv in self.low:
            z = F.leaky_relu(conv(z), LEAKY_SLOPE)
        y = y + self.shuffle(self.up(z))
        for conv in self.post:
            y = F.leaky_relu(conv(y), LEAKY_SLOPE)
        return (base + self.shuffle(self.exit(y)))[..., :h, :w]

    def macs_per_input_pixel(self) -> float:
        """Multiply-accumulates per full-resolution pixel (1/4 of the pixels at the first level, 1/16 below)."""
        half = (self.entry, *self.pre, *self.post, self.exit)
        quarter = (self.down, *self.low, self.up)
        return sum(c.weight.numel() for c in half) / 4 + sum(c.weight.numel() for c in quarter) / 16
