"""A residual restorer at half resolution: de-JPEG, refinement and the camera's x1 path share it.

The image is PixelUnshuffled by 2 (4 x C planes at H/2 x W/2, so a 3x3 conv sees 6x6 pixels and
costs a quarter), a plain conv + LeakyReLU stack runs there, and PixelShuffle(2) brings a *residual*
back to full size, added to the input. Predicting the correction rather than the image is what
DnCNN showed trains fast and never starts worse than the input (the tail starts at zero).

Two options, both read back from the state dict's shapes by the registry:

- ``global_context``: the per-channel mean and standard deviation of the whole image are
  broadcast as 6 extra input planes, so a local stack can still tell a dark photo from a dark
  patch (needed for exposure correction; costs nothing measurable).
- ``range_statistics``: the statistics also hold each channel's highlight and shadow level (the
  brightest and darkest 4x4 block averages, robust to noise), 12 numbers instead of 6. Mean and
  spread alone cannot tell a dim scene from an under-exposed bright one; where the highlights sit
  can (an exposure of -1.5 EV leaves the brightest blocks near 0.5 instead of 1).
- ``curve_steps`` > 0: a small MLP on those statistics predicts curve parameters a in [-1, 1]
  (one per channel and step) and the input first goes through ``curve_steps`` quadratic curves
  ``x + a x (1 - x)`` (Zero-DCE, Guo et al. 2020), which brighten or darken multiplicatively --
  something a residual stack alone represents badly; the stack then denoises the curved image.

``factor`` (default 2) is the unshuffle factor: 8 would make each position one 8x8 JPEG block, but
a 128-feature stack at factor 8 did not start learning within 200 steps at any learning rate tried
(1e-4 to 1e-3), so every network here uses 2.

Sizes that are not a multiple of the factor are replicate-padded and cropped back inside
``forward`` without branching on the size, so one exported graph serves every H, W >= 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SCALE = 2  # the default unshuffle / shuffle factor
CONTEXT_PLANES = 6  # mean and std of each of 3 channels
RANGE_PLANES = 6  # with range_statistics: the brightest and darkest block average of each channel
RANGE_BLOCK = 4
CURVE_HIDDEN = 32
LEAKY_SLOPE = 0.1  # a leaky stack cannot die the way a plain ReLU stack can early in training


class ResidualRestorer(nn.Module):
    """Float NCHW RGB in [0, 1] -> float NCHW RGB, same size (not clamped).

    Layout (state-dict keys): ``entry`` 3x3 (4C [+ 6] -> features), ``blocks.{i}`` 3x3
    (features -> features, ``num_blocks`` of them), ``exit`` 3x3 (features -> 4C), LeakyReLU(0.1)
    after every conv but ``exit``; with curves ``curve_hidden`` (6 -> 32) and ``curve_out``
    (32 -> C curve_steps).
    """

    def __init__(
        self,
        *,
        channels: int = 3,
        features: int = 64,
        num_blocks: int = 6,
        global_context: bool = False,
        curve_steps: int = 0,
        factor: int = SCALE,
        range_statistics: bool = False,
    ) -> None:
        super().__init__()
        if factor < 1:
            raise ValueError("factor must be >= 1")
        if num_blocks < 0 or curve_steps < 0:
            raise ValueError("num_blocks and curve_steps must be >= 0")
        if (global_context or curve_steps or range_statistics) and channels != 3:
            raise ValueError("image statistics are defined for RGB (3 channels)")
        self.channels = channels
        self.global_context = global_context
        self.curve_steps = curve_steps
        self.factor = factor
        self.range_statistics = range_statistics
        context = CONTEXT_PLANES + (RANGE_PLANES if range_statistics else 0)

        planes = channels * factor * factor
        self.unshuffle = nn.PixelUnshuffle(factor)
        self.entry = nn.Conv2d(planes + (context if global_context else 0), features, 3, padding=1)
        self.blocks = nn.ModuleList(nn.Conv2d(features, features, 3, padding=1) for _ in range(num_blocks))
        self.exit = nn.Conv2d(features, planes, 3, padding=1)
        self.shuffle = nn.PixelShuffle(factor)
        if curve_steps:
            # The curves come from the frame's statistics alone, not from the conv stack: a stack that
            # sees content learned to re-grade well-exposed frames (measured: 17-24 dB on untouched ones).
            self.curve_hidden = nn.Linear(context, CURVE_HIDDEN)
            self.curve_out = nn.Linear(CURVE_HIDDEN, channels * curve_steps)
            nn.init.zeros_(self.curve_out.weight)
            nn.init.zeros_(self.curve_out.bias)
        # He initialisation keeps the signal alive through a deep plain stack; PyTorch's default shrinks
        # it about 0.4x per layer, the biases then decide the signs and, with ReLU, the last layer died
        # (measured: an 8-block ReLU stack trained for 18 minutes learned nothing).
        for conv in (self.entry, *self.blocks):
            nn.init.kaiming_normal_(conv.weight, a=LEAKY_SLOPE, nonlinearity="leaky_relu")
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)
        # Start as the identity: zero residual, zero curves.
        nn.init.zeros_(self.exit.weight)
        if self.exit.bias is not None:
            nn.init.zeros_(self.exit.bias)

    def statistics(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 6]: each channel's mean and standard deviation over the whole image; [N, 12] with the range."""
        moments = torch.cat((x.mean(dim=(2, 3)), x.std(dim=(2, 3))), dim=1)
        if not self.range_statistics:
            return moments
        blocks = F.avg_pool2d(x, RANGE_BLOCK, ceil_mode=True)  # ceil: images under 4 px still give one block
        return torch.cat((moments, blocks.amax(dim=(2, 3)), blocks.amin(dim=(2, 3))), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w, f = x.shape[-2], x.shape[-1], self.factor
        # Pad by f - 1, then keep the largest multiple of f: sides already a multiple lose the pad again.
        base = F.pad(x, (0, f - 1, 0, f - 1), mode="replicate")[..., : (h + f - 1) // f * f, : (w + f - 1) // f * f]
        stats = self.statistics(x) if (self.global_context or self.curve_steps) else None
        if self.curve_steps and stats is not None:
            alphas = torch.tanh(self.curve_out(F.leaky_relu(self.curve_hidden(stats), LEAKY_SLOPE)))
            for step in range(self.curve_steps):
                alpha = alphas[:, step * self.channels : (step + 1) * self.channels, None, None]
                base = base + alpha * base * (1.0 - base)
        y = self.unshuffle(base)
        if self.global_context and stats is not None:
            y = torch.cat((y, stats[:, :, None, None].expand(-1, -1, y.shape[-2], y.shape[-1])), dim=1)
        y = F.leaky_relu(self.entry(y), LEAKY_SLOPE)
        for conv in self.blocks:
            y = F.leaky_relu(conv(y), LEAKY_SLOPE)
        return (base + self.shuffle(self.exit(y)))[..., :h, :w]

    def macs_per_input_pixel(self) -> int:
        """Multiply-accumulates per full-resolution pixel (every conv runs at 1 / factor² of the pixels)."""
        return sum(m.weight.numel() for m in self.modules() if isinstance(m, nn.Conv2d)) // (self.factor**2)
