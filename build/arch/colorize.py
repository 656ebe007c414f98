"""A small colouriser: luma in, chroma predicted at a quarter of the resolution, luma kept bit for bit.

The input is reduced to its BT.601 luma Y first, so a black-and-white scan, a sepia-toned print and
a colour photo are all the same kind of input (a grey level per pixel); nothing the network does can
depend on how the print was toned. It predicts only the two chroma planes (Cb, Cr): chroma is
low-frequency (JPEG keeps a quarter of it, and the eye does not miss the rest), so the network runs
at a quarter of the resolution -- Y PixelUnshuffled by 4 into 16 planes, which keeps the fine
texture that tells grass from gravel -- and its chroma is bilinearly upsampled. A U-Net of two more
stride-2 levels reaches about 200 px around each pixel; a global-context branch (the mean of the
bottleneck's features, through a small MLP, added back to every position) carries the scene's
colour cast, e.g. "outdoors, daylight", to places the convolutions do not reach.

The output is Y plus the predicted chroma, converted back to RGB. Chroma is scaled down where it
would push a channel out of [0, 1] (the largest factor <= 1 that keeps all three in range), so the
served graph's clamp never clips and the output's luma is the input's within uint8 rounding. The
chroma tail starts at zero: an untrained network returns the grey photo, the plain baseline.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

LEAKY_SLOPE = 0.1
UNSHUFFLE = 4  # the network's grid: a quarter of the resolution
MULTIPLE = UNSHUFFLE * 4  # and two stride-2 levels below it
DILATIONS = (2, 4)
LUMA = (0.299, 0.587, 0.114)  # BT.601, as `lumaflow.build.degrade.grey` makes a grey photo
# BT.601 (JFIF, full range) chroma: Cb = 0.564 (B - Y), Cr = 0.713 (R - Y); RGB = Y + CHROMA_TO_RGB @ (Cb, Cr).
CB_SCALE, CR_SCALE = 0.5 / (1.0 - LUMA[2]), 0.5 / (1.0 - LUMA[0])
CHROMA_TO_RGB = (
    (0.0, 1.0 / CR_SCALE),
    (-LUMA[2] / LUMA[1] / CB_SCALE, -LUMA[0] / LUMA[1] / CR_SCALE),
    (1.0 / CB_SCALE, 0.0),
)


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """BT.601 Y of float NCHW RGB, N1HW."""
    r, g, b = rgb.unbind(1)
    return (LUMA[0] * r + LUMA[1] * g + LUMA[2] * b).unsqueeze(1)


def chroma(rgb: torch.Tensor) -> torch.Tensor:
    """BT.601 (Cb, Cr) of float NCHW RGB, N2HW, zero for a grey pixel."""
    y = luma(rgb)
    return torch.cat((CB_SCALE * (rgb[:, 2:3] - y), CR_SCALE * (rgb[:, 0:1] - y)), dim=1)


def to_rgb(y: torch.Tensor, cbcr: torch.Tensor) -> torch.Tensor:
    """RGB from Y in [0, 1] and (Cb, Cr), chroma scaled down just enough to keep every channel in [0, 1].

    The chroma-to-RGB offsets have zero luma, so scaling them leaves Y exactly as it was.
    """
    cb, cr = cbcr[:, 0:1], cbcr[:, 1:2]
    offsets = torch.cat([a * cb + b * cr for a, b in CHROMA_TO_RGB], dim=1)
    headroom = torch.where(offsets > 0, 1.0 - y, y)  # how far each channel may move in the offset's direction
    fits = (headroom / offsets.abs().clamp(min=1e-6)).clamp(max=1.0)
    return y + fits.amin(dim=1, keepdim=True) * offsets


def _conv(cin: int, cout: int, *, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation)


class Colorizer(nn.Module):
    """Float NCHW RGB in [0, 1] (grey, sepia or colour) -> float NCHW RGB in [0, 1] with the input's luma.

    Layout (state-dict keys), on the quarter-resolution grid Q: ``luma_in`` (16 -> w0), ``luma_in2``
    (w0 -> w0); ``down1`` (stride 2, w0 -> w1), ``down1b``; ``down2`` (stride 2, w1 -> w2);
    ``scene_hidden``, ``scene_out`` (linear w2 -> w2 -> w2, the global context); ``mid.{i}`` (w2 -> w2,
    dilated 2 and 4, then plain); ``up1`` (w2 + w1 -> w1), ``up0`` (w1 + w0 -> w0); ``chroma_out``
    (w0 -> 2). LeakyReLU(0.1) after every conv but ``chroma_out``. Any H, W >= 1.
    """

    def __init__(self, *, widths: tuple[int, int, int] = (32, 64, 96)) -> None:
        super().__init__()
        w0, w1, w2 = widths
        self.widths = widths
        self.luma_in = _conv(UNSHUFFLE * UNSHUFFLE, w0)
        self.luma_in2 = _conv(w0, w0)
        self.down1 = _conv(w0, w1, stride=2)
        self.down1b = _conv(w1, w1)
        self.down2 = _conv(w1, w2, stride=2)
        self.scene_hidden = nn.Linear(w2, w2)
        self.scene_out = nn.Linear(w2, w2)
        self.mid = nn.ModuleList([*(_conv(w2, w2, dilation=d) for d in DILATIONS), _conv(w2, w2)])
        self.up1 = _conv(w2 + w1, w1)
        self.up0 = _conv(w1 + w0, w0)
        self.chroma_out = _conv(w0, 2)
        nn.init.zeros_(self.chroma_out.weight)  # start as the grey photo
        if self.chroma_out.bias is not None:
            nn.init.zeros_(self.chroma_out.bias)

    def predict_chroma(self, y: torch.Tensor) -> torch.Tensor:
        """(Cb, Cr) on the quarter grid of Y (N1HW, H and W multiples of `MULTIPLE`)."""

        def act(x: torch.Tensor) -> torch.Tensor:
            return F.leaky_relu(x, LEAKY_SLOPE)

        e0 = act(self.luma_in2(act(self.luma_in(F.pixel_unshuffle(y, UNSHUFFLE)))))
        e1 = act(self.down1b(act(self.down1(e0))))
        z = act(self.down2(e1))
        scene = self.scene_out(act(self.scene_hidden(z.mean(dim=(2, 3)))))
        z = z + scene[:, :, None, None]
        for conv in self.mid:
            z = act(conv(z))
        z = act(self.up1(torch.cat((F.interpolate(z, scale_factor=2.0, mode="nearest"), e1), dim=1)))
        z = act(self.up0(torch.cat((F.interpolate(z, scale_factor=2.0, mode="nearest"), e0), dim=1)))
        return self.chroma_out(z)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        h, w, m = image.shape[-2], image.shape[-1], MULTIPLE
        y = luma(image)
        # Replicate-pad to a multiple of 16 and crop back, with no branch on the size (one graph for all).
        padded = F.pad(y, (0, m - 1, 0, m - 1), mode="replicate")[..., : (h + m - 1) // m * m, : (w + m - 1) // m * m]
        cbcr = F.interpolate(self.predict_chroma(padded), scale_factor=float(UNSHUFFLE), mode="bilinear")
        return to_rgb(y, cbcr[..., :h, :w])

    def macs_per_input_pixel(self) -> int:
        """Multiply-accumulates per full-resolution pixel: 1/16 of them on Q, 1/64 on Q/2, 1/256 on Q/4."""

        def weights(*modules: nn.Module) -> int:
            return sum(m.weight.numel() for module in modules for m in module.modules() if isinstance(m, nn.Conv2d))

        quarter = weights(self.luma_in, self.luma_in2, self.up0, self.chroma_out)
        eighth = weights(self.down1, self.down1b, self.up1)
        return quarter // 16 + eighth // 64 + weights(self.down2, self.mid) // 256


def colorizer_hyperparameters(state: Mapping[str, torch.Tensor]) -> dict[str, int] | None:
    """The widths of a Colorizer state dict, or None when ``state`` is not exactly one (the registry's detect)."""
    if any(f"{name}.weight" not in state for name in ("luma_in", "down1", "down2", "chroma_out")):
        return None
    w0, w1, w2 = (int(state[f"{name}.weight"].shape[0]) for name in ("luma_in", "down1", "down2"))
    widths = (w0, w1, w2)
    expected = Colorizer(widths=widths).state_dict()
    if set(state) != set(expected) or any(tuple(v.shape) != tuple(expected[k].shape) for k, v in state.items()):
        return None
    return {"scale": 1, "in_channels": 3, "out_channels": 3, "width0": w0, "width1": w1, "width2": w2}
