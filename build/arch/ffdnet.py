"""FFDNet (Zhang, Zuo & Zhang, IEEE TIP 2018): a fast, noise-level-conditioned CNN denoiser.

The network works at half resolution: the noisy image is PixelUnshuffled by 2 (so 4 x C channels at
H/2 x W/2), a noise-level map (sigma / 255, the same value everywhere) is concatenated as one more
channel, a plain stack of 3x3 convs with ReLU runs on that, and PixelShuffle(2) brings the result back
to full size. The output is the denoised image itself (no residual skip), as in KAIR's port.

The unshuffle needs even H and W. `FFDNet.forward` handles odd sizes itself: it replicate-pads one row
and/or column at the bottom/right (exactly what KAIR's forward does) and crops the output back, so any
H, W >= 1 works and callers see `size_multiple == 1`. The padding is written without branching on the
size (always pad by one, then keep an even number of rows/columns), so one exported ONNX graph serves
odd and even sizes alike.

Weights published for KAIR (``model.{2i}.weight`` of one ``nn.Sequential`` with ReLUs at the odd
indices) load through `state_dict_from_kair`, which maps them onto our named layers explicitly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

SCALE = 2  # the unshuffle / shuffle factor; fixed by the design, not a hyper-parameter


class FFDNet(nn.Module):
    """Float NCHW RGB in [0, 1] and sigma [N, 1, 1, 1] (sigma / 255) -> float NCHW, same size (not clamped).

    Layout (state-dict keys, which `registry` reads the hyper-parameters back from): ``head`` 3x3
    ``in*4 + 1 -> features``, ``body.{i}`` 3x3 ``features -> features`` (``num_convs - 2`` of them),
    ``tail`` 3x3 ``features -> out*4``; ReLU after every conv but the tail. KAIR's colour model is
    ``in_channels=out_channels=3, features=96, num_convs=12``.
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        out_channels: int = 3,
        features: int = 96,
        num_convs: int = 12,
    ) -> None:
        super().__init__()
        if num_convs < 2:
            raise ValueError("num_convs counts the head and the tail, so it must be >= 2")

        self.unshuffle = nn.PixelUnshuffle(SCALE)
        self.head = nn.Conv2d(in_channels * SCALE * SCALE + 1, features, 3, padding=1)
        self.body = nn.ModuleList(nn.Conv2d(features, features, 3, padding=1) for _ in range(num_convs - 2))
        self.tail = nn.Conv2d(features, out_channels * SCALE * SCALE, 3, padding=1)
        self.shuffle = nn.PixelShuffle(SCALE)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2], x.shape[-1]
        # Pad by one row/column, then keep the largest even size: for an even side that drops the pad
        # again, for an odd one it keeps one replicated row/column (KAIR pads by h % 2, w % 2).
        even = F.pad(x, (0, 1, 0, 1), mode="replicate")[..., : (h + 1) // 2 * 2, : (w + 1) // 2 * 2]
        y = self.unshuffle(even)
        level = sigma.to(y.dtype).expand(-1, 1, y.shape[-2], y.shape[-1])
        y = torch.relu(self.head(torch.cat((y, level), dim=1)))
        for conv in self.body:
            y = torch.relu(conv(y))
        return self.shuffle(self.tail(y))[..., :h, :w]

    def macs_per_input_pixel(self) -> int:
        """Multiply-accumulates per full-resolution pixel (every conv runs at a quarter of the pixels)."""
        return sum(m.weight.numel() for m in self.modules() if isinstance(m, nn.Conv2d)) // (SCALE * SCALE)


class NoiseLevelPixelsGraph(nn.Module):
    """The served interface: uint8 ``PIXELS`` [N, H, W, 3] + float32 ``NOISE_LEVEL`` [N, 1] -> uint8 [N, H, W, 3].

    ``NOISE_LEVEL`` is the Gaussian sigma on the 0-255 scale (what users and papers quote, e.g. 25),
    one per image, so a batch can mix noise levels. Like `pixels.PixelsGraph`, the float conversion,
    clamping and rounding live inside the exported graph.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor, noise_level: torch.Tensor) -> torch.Tensor:
        x = pixels.permute(0, 3, 1, 2).to(torch.float32) / 255.0
        sigma = (noise_level.to(torch.float32) / 255.0)[:, :, None, None]
        y = self.model(x, sigma).clamp(0.0, 1.0) * 255.0
        # Round before the cast: a bare cast truncates, which darkens every pixel by ~0.5 on average.
        return torch.round(y).to(torch.uint8).permute(0, 2, 3, 1)


# --- KAIR's layout -------------------------------------------------------------------------------

_KAIR_CONV = re.compile(r"model\.(\d+)\.(weight|bias)")


def is_kair_state_dict(state: Mapping[str, torch.Tensor]) -> bool:
    """True if `state` has exactly KAIR's FFDNet keys: ``model.{0,2,...,2(n-1)}.{weight,bias}``, n >= 2."""
    indices = set()
    for key in state:
        match = _KAIR_CONV.fullmatch(key)
        if match is None:
            return False
        indices.add(int(match.group(1)))
    n = len(indices)
    return n >= 2 and indices == set(range(0, 2 * n, 2)) and len(state) == 2 * n


def state_dict_from_kair(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename KAIR's ``model.{2i}`` convs to ours: ``model.0`` -> ``head``, ``model.{2k}`` -> ``body.{k-1}``
    for k = 1 .. n-2, ``model.{2(n-1)}`` -> ``tail`` (n = the number of convs; odd indices are ReLUs).

    Tensors are shared, not copied. Raises ValueError on anything but KAIR's plain-conv FFDNet layout
    (e.g. a BatchNorm variant, whose extra keys would otherwise be dropped silently).
    """
    if not is_kair_state_dict(state):
        keys = ", ".join(sorted(state)[:6])
        raise ValueError(f"not a KAIR FFDNet state dict (want model.{{0,2,4,...}}.weight/bias only): {keys}, ...")
    n = len(state) // 2
    names = {0: "head", 2 * (n - 1): "tail"} | {2 * k: f"body.{k - 1}" for k in range(1, n - 1)}
    return {f"{names[i]}.{p}": state[f"model.{i}.{p}"] for i in range(0, 2 * n, 2) for p in ("weight", "bias")}
