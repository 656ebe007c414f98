"""RRDBNet (ESRGAN, Wang et al. 2018), the generator of Real-ESRGAN x4plus, in BasicSR's key layout.

``conv_first`` → ``num_block`` residual-in-residual dense blocks (``body.i``: three dense blocks
``rdb1..3`` of five 3x3 convs each, every conv seeing the concatenation of the block input and all
earlier outputs, LeakyReLU 0.2 but on ``conv5``, residuals scaled by 0.2) → ``conv_body`` plus the
``conv_first`` features → twice (nearest ×2, 3x3 conv, LeakyReLU) → ``conv_hr`` (LeakyReLU) →
``conv_last``. Real-ESRGAN x4plus is 23 blocks, 64 features, growth 32: 16.7 M parameters, all but
the last three convs at input resolution.

Scale 4 is the native one; BasicSR's ×2 and ×1 variants pixel-unshuffle the input first (so
``conv_first`` sees 4 or 16 × the input channels, and H and W must be multiples of 2 or 4).

Values: float RGB in [0, 1] in and out (realesrgan-ncnn-vulkan feeds RGB / 255 and writes
``out * 255`` clamped), the same convention as our `PixelsGraph`. Borders: convolutions zero-pad,
as BasicSR's whole-image inference does; realesrgan-ncnn-vulkan's tiles instead see 10 px of
edge-replicated padding (its ``prepadding``), which changes only the outermost pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

RESIDUAL_SCALE = 0.2
SLOPE = 0.2


class ResidualDenseBlock(nn.Module):
    def __init__(self, num_feat: int, num_grow_ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = F.leaky_relu(self.conv1(x), SLOPE)
        x2 = F.leaky_relu(self.conv2(torch.cat((x, x1), 1)), SLOPE)
        x3 = F.leaky_relu(self.conv3(torch.cat((x, x1, x2), 1)), SLOPE)
        x4 = F.leaky_relu(self.conv4(torch.cat((x, x1, x2, x3), 1)), SLOPE)
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * RESIDUAL_SCALE + x


class RRDB(nn.Module):
    def __init__(self, num_feat: int, num_grow_ch: int) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * RESIDUAL_SCALE + x


class RRDBNet(nn.Module):
    """Float NCHW RGB in [0, 1] -> float NCHW RGB at `scale` x the size (not clamped); `scale` 4, 2 or 1."""

    def __init__(
        self,
        *,
        in_channels: int = 3,
        out_channels: int = 3,
        scale: int = 4,
        num_feat: int = 64,
        num_block: int = 23,
        num_grow_ch: int = 32,
    ) -> None:
        super().__init__()
        if scale not in (1, 2, 4):
            raise ValueError(f"RRDBNet supports scale 1, 2 or 4, got {scale}")
        self.scale = scale
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.unshuffle = 4 // scale  # BasicSR: ×2 and ×1 pixel-unshuffle by 2 and 4 first
        self.conv_first = nn.Conv2d(in_channels * self.unshuffle**2, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(num_feat, num_grow_ch) for _ in range(num_block)))
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, out_channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = F.leaky_relu(self.conv_up1(F.interpolate(feat, scale_factor=2.0, mode="nearest")), SLOPE)
        feat = F.leaky_relu(self.conv_up2(F.interpolate(feat, scale_factor=2.0, mode="nearest")), SLOPE)
        return self.conv_last(F.leaky_relu(self.conv_hr(feat), SLOPE))
