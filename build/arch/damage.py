"""A small U-Net that segments old-photo damage: scratches, dust, creases and tears.

Damage is local and thin (a 1 px scratch, a 2 px speck), so the full-resolution level keeps the
exact outline, while two stride-2 levels with dilated convolutions at the bottom see far enough
(about 50 px around each pixel, `receptive_radius`) to follow a scratch or a fold line and to tell
a torn, paper-coloured border region from a bright sky. Skips carry the fine edges back up. The
network outputs one probability per pixel (sigmoid inside), so the served graph is the generic
`PixelsGraph`: uint8 RGB in, uint8 probability x 255 out, and its mask feeds the inpainter.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

LEAKY_SLOPE = 0.1
MULTIPLE = 4  # two stride-2 levels
DILATIONS = (2, 4)


def _conv(cin: int, cout: int, *, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation), nn.LeakyReLU(LEAKY_SLOPE)
    )


class DamageNet(nn.Module):
    """float NCHW RGB in [0, 1] -> damage probability [N, 1, H, W] in [0, 1], any H, W >= 1.

    Layout (state-dict keys): ``level0`` (two 3x3 convs, 3 -> w0), ``level1`` (stride 2 then 3x3, w0 -> w1),
    ``level2`` (stride 2 then 3x3, w1 -> w2), ``context.{i}`` (dilated w2 -> w2, one per dilation), ``fuse1``
    (w2 + w1 -> w1), ``fuse0`` (w1 + w0 -> w0) and ``logit`` (1x1, w0 -> 1).
    """

    def __init__(self, *, widths: tuple[int, int, int] = (16, 32, 48)) -> None:
        super().__init__()
        w0, w1, w2 = widths
        self.widths = widths
        self.level0 = nn.Sequential(_conv(3, w0), _conv(w0, w0))
        self.level1 = nn.Sequential(_conv(w0, w1, stride=2), _conv(w1, w1))
        self.level2 = nn.Sequential(_conv(w1, w2, stride=2), _conv(w2, w2))
        self.context = nn.Sequential(*(_conv(w2, w2, dilation=d) for d in DILATIONS))
        self.fuse1 = _conv(w2 + w1, w1)
        self.fuse0 = _conv(w1 + w0, w0)
        self.logit = nn.Conv2d(w0, 1, 1)
        if self.logit.bias is not None:  # start near the prior: damage is a few percent of pixels
            nn.init.constant_(self.logit.bias, -3.0)

    def logits(self, image: torch.Tensor) -> torch.Tensor:
        h, w, m = image.shape[-2], image.shape[-1], MULTIPLE
        # Replicate-pad to a multiple of 4 and crop back, with no branch on the size (one graph for all).
        x = F.pad(image, (0, m - 1, 0, m - 1), mode="replicate")[..., : (h + m - 1) // m * m, : (w + m - 1) // m * m]
        e0 = self.level0(x - 0.5)
        e1 = self.level1(e0)
        y = self.context(self.level2(e1))
        y = self.fuse1(torch.cat((F.interpolate(y, scale_factor=2.0, mode="nearest"), e1), dim=1))
        y = self.fuse0(torch.cat((F.interpolate(y, scale_factor=2.0, mode="nearest"), e0), dim=1))
        return self.logit(y)[..., :h, :w]

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(image))

    def macs_per_input_pixel(self) -> int:
        """Multiply-accumulates per pixel: full-resolution convs, a quarter for /2, a sixteenth for /4."""

        def weights(*modules: nn.Module) -> int:
            return sum(m.weight.numel() for module in modules for m in module.modules() if isinstance(m, nn.Conv2d))

        full = weights(self.level0, self.fuse0, self.logit)
        half = weights(self.level1, self.fuse1)
        return full + half // 4 + weights(self.level2, self.context) // 16


def receptive_radius(model: DamageNet, size: int = 257) -> int:
    """Pixels from the centre of a ``size`` square whose input can move the centre's output (measured)."""
    x = torch.rand(1, 3, size, size, requires_grad=True)
    model.logits(x)[0, 0, size // 2, size // 2].backward()
    if x.grad is None:
        raise RuntimeError("no gradient reached the input")
    ys, xs = torch.nonzero(x.grad.abs().sum(1)[0] > 0, as_tuple=True)
    return int(max((ys - size // 2).abs().max(), (xs - size // 2).abs().max()))


def damage_hyperparameters(state: Mapping[str, torch.Tensor]) -> dict[str, int] | None:
    """Widths read from a state dict's shapes when its keys and shapes are exactly a DamageNet's, else None."""
    names = ("level0.0.0.weight", "level1.0.0.weight", "level2.0.0.weight")
    if any(name not in state for name in names):
        return None
    w0, w1, w2 = (int(state[name].shape[0]) for name in names)
    expected = DamageNet(widths=(w0, w1, w2)).state_dict()
    if set(state) != set(expected) or any(tuple(v.shape) != tuple(expected[k].shape) for k, v in state.items()):
        return None
    return {"scale": 1, "in_channels": 3, "out_channels": 1, "width0": w0, "width1": w1, "width2": w2}
