"""SRMD (Zhang, Zuo & Zhang, CVPR 2018): super-resolution for multiple degradations, as run by
nihui's srmd-ncnn-vulkan (weights from cszn/SRMD, converted to ncnn).

The network is plain: twelve 3x3 convolutions (128 features, ReLU after all but the last) at LR
resolution, the last giving ``3 * scale²`` planes for a PixelShuffle. What makes it SRMD is its
input: the LR image (RGB / 255) concatenated with a *degradation map*, planes that are constant
over the image and describe the blur kernel and noise the LR image went through:

- 15 planes: the blur kernel projected on SRMD's 15 PCA components. srmd-ncnn-vulkan always feeds the
  same vector (`DEGRADATION_VECTOR`, the constants in its ``srmd_preproc.comp``), i.e. it does not
  expose the kernel: one fixed (bicubic-like) degradation;
- 1 plane, only in the ``srmd_x*`` models: the noise level σ / 255, with σ the ``-n`` option
  (0..10, default 3; an int, on the 0–255 scale). ``-n -1`` selects the noise-free ``srmdnf_x*``
  models instead, whose input is 3 + 15 = 18 planes.

So `SRMD.forward(x)` builds those planes itself (noise level: the constructor's `noise_level`, by
default srmd-ncnn-vulkan's 3), and a served graph takes plain RGB like every other stage.

Borders: srmd-ncnn-vulkan replicates the edge pixels by its ``prepadding`` of 12 on every side of
each tile (its preprocessing shader clamps the read coordinates) and crops the result; `forward`
does the same (`PREPADDING`), `forward_bare` is the network alone (what ncnn runs on a given input).
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

# srmd-ncnn-vulkan's src/srmd_preproc.comp `degradation_vector` (15 PCA coefficients of the kernel).
DEGRADATION_VECTOR: tuple[float, ...] = (
    -1.12360956e-08,
    -1.36899159e-08,
    1.85637958e-02,
    2.86066886e-08,
    3.35292965e-02,
    8.37272935e-08,
    -2.54424009e-07,
    -3.16234976e-02,
    -1.35169253e-02,
    -1.10466090e-08,
    3.84753793e-02,
    3.79465739e-08,
    -2.44916752e-01,
    -8.02213490e-01,
    -5.40549755e-01,
)
DEFAULT_NOISE_LEVEL = 3  # srmd-ncnn-vulkan's `-n` default
MAX_NOISE_LEVEL = 10  # srmd-ncnn-vulkan accepts -1..10
PREPADDING = 12


class SRMD(nn.Module):
    """Float NCHW RGB in [0, 1] -> float NCHW RGB at `scale` x the size (not clamped).

    `noise_channel`: whether the network takes the noise-level plane (``srmd_x*``) or not
    (``srmdnf_x*``). State-dict keys: ``convs.0`` ... ``convs.{num_convs - 1}``.
    """

    degradation: torch.Tensor

    def __init__(
        self,
        *,
        scale: int,
        noise_channel: bool = True,
        noise_level: int | None = None,
        in_channels: int = 3,
        features: int = 128,
        num_convs: int = 12,
    ) -> None:
        super().__init__()
        if noise_level is None:
            noise_level = DEFAULT_NOISE_LEVEL if noise_channel else -1
        self.scale = scale
        self.in_channels = in_channels
        self.noise_channel = noise_channel
        self.noise_level = self._check_noise(noise_level)
        map_planes = len(DEGRADATION_VECTOR) + int(noise_channel)
        widths = [in_channels + map_planes, *([features] * (num_convs - 1)), in_channels * scale * scale]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, 1, 1) for a, b in itertools.pairwise(widths))
        self.register_buffer("degradation", torch.tensor(DEGRADATION_VECTOR, dtype=torch.float32), persistent=False)

    def _check_noise(self, level: int) -> int:
        if self.noise_channel and not 0 <= level <= MAX_NOISE_LEVEL:
            raise ValueError(f"noise level must be 0..{MAX_NOISE_LEVEL} for srmd_x*, got {level}")
        if not self.noise_channel and level != -1:
            raise ValueError(f"the noise-free SRMD (srmdnf_x*) takes no noise level (-1), got {level}")
        return level

    def degradation_map(self, x: torch.Tensor, noise_level: int | None = None) -> torch.Tensor:
        """`x` with the degradation planes appended (as srmd-ncnn-vulkan's preprocessing writes them)."""
        level = self.noise_level if noise_level is None else self._check_noise(noise_level)
        n, _, h, w = x.shape
        values = self.degradation.to(x.dtype)
        if self.noise_channel:
            values = torch.cat((values, torch.full((1,), level / 255.0, dtype=x.dtype, device=x.device)))
        planes = values.view(1, -1, 1, 1).expand(n, -1, h, w)
        return torch.cat((x, planes), 1)

    def forward_bare(self, x: torch.Tensor) -> torch.Tensor:
        """The network alone, on image plus degradation planes (what ncnn's ``input`` blob holds)."""
        for conv in self.convs[:-1]:
            x = F.relu(conv(x))
        return F.pixel_shuffle(self.convs[-1](x), self.scale)

    def forward(self, x: torch.Tensor, noise_level: int | None = None) -> torch.Tensor:
        h, w = x.shape[-2:]
        padded = F.pad(x, (PREPADDING,) * 4, mode="replicate")
        out = self.forward_bare(self.degradation_map(padded, noise_level))
        crop = PREPADDING * self.scale
        return out[..., crop : crop + h * self.scale, crop : crop + w * self.scale]
