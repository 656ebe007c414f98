"""A noise-map estimator: the per-region noise level FFDNet should be told, read from the noisy photo itself.

FFDNet takes a noise-level map at half resolution; `denoise` has fed it one σ for the whole photo (the analysis
network's, trained on white Gaussian noise). This network reads the photo at 1/4 resolution
(PixelUnshuffle 4: 48 planes) through a small dilated stack (dilations 1, 2, 4, 2, 1; a receptive field of about
80 px) and gives a level per 4 × 4 block on the 0–255 scale (softplus, so always positive), which `ffdnet_level`
upsamples to FFDNet's grid. It is trained through the frozen FFDNet on the denoised result
(`lumaflow.build.train_noise_map`), so its "level" is the one that makes FFDNet best, not a measured standard
deviation. Local only (no pooling over the photo), so tiles see what the whole photo would.
Input: float NCHW RGB in [0, 1]; output [N, 1, ceil(H / 4), ceil(W / 4)].
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

FACTOR = 4
DILATIONS = (1, 2, 4, 2, 1)
SLOPE = 0.1


class NoiseMapEstimator(nn.Module):
    def __init__(self, *, features: int = 32, offset: float = 1.0) -> None:
        super().__init__()
        self.offset = offset
        self.unshuffle = nn.PixelUnshuffle(FACTOR)
        self.entry = nn.Conv2d(3 * FACTOR * FACTOR, features, 3, padding=1)
        self.body = nn.ModuleList(nn.Conv2d(features, features, 3, padding=d, dilation=d) for d in DILATIONS)
        self.exit = nn.Conv2d(features, 1, 1)
        for conv in (self.entry, *self.body):
            nn.init.kaiming_normal_(conv.weight, a=SLOPE, nonlinearity="leaky_relu")
            nn.init.zeros_(conv.bias)  # type: ignore[arg-type]
        nn.init.zeros_(self.exit.weight)
        assert self.exit.bias is not None
        nn.init.constant_(self.exit.bias, 15.0)  # softplus(15) + 1 = 16: a mid noise level to start from

    def macs_per_input_pixel(self) -> float:
        """Multiply-accumulates per full-resolution pixel (every conv runs at 1/16 of the pixels)."""
        convs = (m for m in self.modules() if isinstance(m, nn.Conv2d))
        return sum(c.weight.numel() for c in convs) / (FACTOR * FACTOR)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w, m = x.shape[-2], x.shape[-1], FACTOR
        padded = F.pad(x, (0, m - 1, 0, m - 1), mode="replicate")[..., : (h + m - 1) // m * m, : (w + m - 1) // m * m]
        y = F.leaky_relu(self.entry(self.unshuffle(padded * 2.0 - 1.0)), SLOPE)
        for conv in self.body:
            y = F.leaky_relu(conv(y), SLOPE)
        return F.softplus(self.exit(y)) + self.offset


def noise_map_hyperparameters(state: Mapping[str, torch.Tensor]) -> dict[str, int] | None:
    """The width read from a state dict's shapes when its keys and shapes are exactly an estimator's, else None."""
    if "entry.weight" not in state or "exit.weight" not in state:
        return None
    features = int(state["entry.weight"].shape[0])
    expected = NoiseMapEstimator(features=features).state_dict()
    if set(state) != set(expected) or any(tuple(v.shape) != tuple(expected[k].shape) for k, v in state.items()):
        return None
    return {"scale": 1, "in_channels": 3, "out_channels": 1, "features": features}


class NoiseEstimateGraph(nn.Module):
    """The served estimate: uint8 crops [N, H, W, 3] -> float [N, 1], each crop's mean level (σ on 0-255).

    Decode sends the photo's grid crops (`lumaflow.runtime.crops`, as for the analysis) and takes their median
    as the photo's level; their spread is the map's range that INFO reports.
    """

    def __init__(self, model: NoiseMapEstimator) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        levels = self.model(pixels.permute(0, 3, 1, 2).to(torch.float32) / 255.0)
        return levels.mean(dim=(2, 3))


def ffdnet_level(levels: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The estimator's 1/4-resolution levels (0–255) as FFDNet's map: σ / 255 on its half-resolution grid."""
    half = ((height + 1) // 2, (width + 1) // 2)
    return (
        F.interpolate(levels, scale_factor=2.0, mode="bilinear", align_corners=False)[..., : half[0], : half[1]] / 255.0
    )
