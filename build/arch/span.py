"""SPAN (Wan et al., "Swift Parameter-free Attention Network for Efficient Super-Resolution", CVPRW 2024):
the NTIRE 2024 efficient super-resolution winner (hongyuanyu/SPAN), in its re-parameterised (eval) form.

Why this network: it is small (0.41 M parameters at 48 features, x2) and fast, because its attention has no
parameters of its own: each block's output is ``(out3 + x) * (sigmoid(out3) - 0.5)``, a symmetric activation of
the block's last convolution that weights the residual, so all the work is plain 3x3 convolutions (no
normalisation, no depthwise or 1x1 branches once re-parameterised).

Training uses ``Conv3XC`` convolutions (a 1x1 skip plus 1x1-3x3-1x1 branches) that fold into one 3x3
convolution for inference (their ``eval_conv``); that folded form is what the ncnn graphs hold and what this
module is. The network, all at LR resolution but the last step:

- ``(x - mean) * 255``, with ``mean`` the DIV2K RGB mean, a buffer in the state dict (the ncnn graph stores it);
- ``conv_1`` (3x3, in -> F features);
- six blocks ``block_1..6``: ``c1_r``, SiLU, ``c2_r``, SiLU, ``c3_r``, then the parameter-free attention above;
- ``conv_2`` on block 6's output; ``conv_cat`` (1x1) over the concatenation of ``conv_1``, ``conv_2``,
  ``block_1``'s output and block 6's first SiLU output (4F planes -> F; hongyuanyu/SPAN returns ``c1_r``'s
  output, but its SiLU is in-place, so what is concatenated is the activated one, as in the ncnn graph);
- ``upsampler``: a 3x3 convolution to ``out * scale²`` planes and PixelShuffle.

There is no inverse normalisation at the end (hongyuanyu/SPAN's ``forward`` returns the upsampler's output, and
so does the ncnn graph): the network learnt to give RGB in [0, 1] itself. So the model takes and returns float
NCHW RGB in [0, 1], like the ncnn graph, and its output is not clamped.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IMG_RANGE = 255.0  # hongyuanyu/SPAN's `img_range`: the normalised input is (x - mean) * 255
DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)  # hongyuanyu/SPAN's `rgb_mean` (and the ncnn graphs' MemoryData)
NUM_BLOCKS = 6


def _conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, 1, 1)


class SPAB(nn.Module):
    """One block: three 3x3 convolutions (SiLU after the first two) and the parameter-free attention."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.c1_r = _conv3x3(channels, channels)
        self.c2_r = _conv3x3(channels, channels)
        self.c3_r = _conv3x3(channels, channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The block's output and its first SiLU output (block 6's feeds `conv_cat`)."""
        out1 = F.silu(self.c1_r(x))
        out3 = self.c3_r(F.silu(self.c2_r(out1)))
        return (out3 + x) * (torch.sigmoid(out3) - 0.5), out1


class SPAN(nn.Module):
    """Float NCHW RGB in [0, 1] -> float NCHW RGB at `upscale` x the size (not clamped).

    State-dict keys: ``mean`` (1, in, 1, 1); ``conv_1``; ``block_{1..6}.c{1,2,3}_r``; ``conv_2``; ``conv_cat``
    (1x1); ``upsampler.0`` (``.weight`` and ``.bias`` each).
    """

    mean: torch.Tensor

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, feature_channels: int = 48, upscale: int = 2) -> None:
        super().__init__()
        self.scale = upscale
        mean = DIV2K_RGB_MEAN if num_in_ch == 3 else (0.0,) * num_in_ch
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, num_in_ch, 1, 1))
        channels = feature_channels
        self.conv_1 = _conv3x3(num_in_ch, channels)
        self.block_1 = SPAB(channels)
        self.block_2 = SPAB(channels)
        self.block_3 = SPAB(channels)
        self.block_4 = SPAB(channels)
        self.block_5 = SPAB(channels)
        self.block_6 = SPAB(channels)
        self.conv_2 = _conv3x3(channels, channels)
        self.conv_cat = nn.Conv2d(4 * channels, channels, 1)
        self.upsampler = nn.Sequential(_conv3x3(channels, num_out_ch * upscale * upscale), nn.PixelShuffle(upscale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feature = self.conv_1((x - self.mean.to(x.dtype)) * IMG_RANGE)
        out_b1, _ = self.block_1(feature)
        out, _ = self.block_2(out_b1)
        out, _ = self.block_3(out)
        out, _ = self.block_4(out)
        out, _ = self.block_5(out)
        out, out_b6_1 = self.block_6(out)
        out = self.conv_cat(torch.cat((feature, self.conv_2(out), out_b1, out_b6_1), 1))
        result: torch.Tensor = self.upsampler(out)
        return result
