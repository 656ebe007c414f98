"""waifu2x's ``upconv_7`` x2 network (nagadomi/waifu2x), as shipped in waifu2x-ncnn-vulkan's models.

Seven layers: six unpadded ("valid") 3x3 convolutions, each followed by LeakyReLU(0.1), with widths
16, 32, 64, 128, 128, 256, then a 4x4 stride-2 transposed convolution (padding 3) to RGB. All the
work but the last layer runs at input resolution.

The convolutions shrink the picture by 12 px and the transposed convolution maps ``n`` to
``2n - 4``, so waifu2x pads its input first: waifu2x-ncnn-vulkan replicates the edge pixels by its
``prepadding`` of 7 on each side (its preprocessing shader clamps the read coordinates), giving
``2 (H + 14 - 12) - 4 = 2H``. `UpConv7.forward` does that padding itself, so an HxW input gives
exactly 2Hx2W, and tiles cut with 7 px of real context give seamless output.

Values: waifu2x feeds RGB / 255 and writes ``round(out * 255)`` (clamped), the same convention
as our `PixelsGraph` (float RGB in [0, 1]).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

UPCONV7_WIDTHS = (16, 32, 64, 128, 128, 256)
PREPADDING = 7


class UpConv7(nn.Module):
    """Float NCHW RGB in [0, 1] -> float NCHW RGB at 2x the size (not clamped).

    State-dict keys are those of nunif's waifu2x ``UpConv7`` (``net.0`` ... ``net.10`` the convs,
    ``net.12`` the ConvTranspose2d, odd indices the weightless LeakyReLUs), so `registry` can read the
    widths back from the shapes.
    """

    def __init__(self, *, in_channels: int = 3, out_channels: int = 3, widths: Sequence[int] = UPCONV7_WIDTHS) -> None:
        super().__init__()
        if len(widths) != 6:
            raise ValueError(f"upconv_7 has six convolutions, got widths {tuple(widths)}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.widths = tuple(widths)
        layers: list[nn.Module] = []
        previous = in_channels
        for width in self.widths:
            layers += [nn.Conv2d(previous, width, 3, 1, 0), nn.LeakyReLU(0.1)]
            previous = width
        layers.append(nn.ConvTranspose2d(previous, out_channels, 4, 2, 3))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (PREPADDING,) * 4, mode="replicate")
        return self.net(x)

    def forward_prepadded(self, x: torch.Tensor) -> torch.Tensor:
        """The bare network (what ncnn runs): an input already padded by `PREPADDING` per side."""
        return self.net(x)

    def macs_per_input_pixel(self) -> int:
        """Multiply-accumulates per LR pixel (ignoring the padding border)."""
        # A conv costs its weight count per input pixel; so does the deconv (16 taps per in/out pair).
        return sum(m.weight.numel() for m in self.net if isinstance(m, nn.Conv2d | nn.ConvTranspose2d))
