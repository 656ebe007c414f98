"""A small image assessor: one crop in, a few numbers out (the analysis network and the quality score).

Noise, JPEG blocking and blur live in the finest pixels, so the first two convolutions run at full
resolution; three stride-2 stages then widen the view to 8x8 blocks and beyond (the JPEG grid, when
crops are taken on it). Global pooling keeps the mean *and* the standard deviation of the last
features (noise shows as variance, not as a mean), and the crop's per-channel mean and standard
deviation join them, so exposure and colour cast need no deep path. The head is a two-layer MLP.

Output is raw (``outputs`` numbers per crop); what each number means, and the scaling to served
units, belongs to the recipe and to `AssessorGraph`, not to the architecture.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LEAKY_SLOPE = 0.1
CONTEXT_PLANES = 6  # per-channel mean and std of the input crop
HEAD_HIDDEN = 64


class Assessor(nn.Module):
    """Float NCHW RGB in [0, 1] (any H, W >= 8) -> float [N, outputs].

    State-dict keys: ``stem.{0,1}`` (3x3, full resolution), ``down.{i}`` (3x3 stride 2) and
    ``body.{i}`` (3x3) per stage, ``hidden`` and ``out`` (linear).
    """

    def __init__(self, *, outputs: int, widths: tuple[int, ...] = (32, 48, 64, 96)) -> None:
        super().__init__()
        if outputs < 1 or len(widths) < 2:
            raise ValueError("an assessor needs >= 1 output and >= 2 widths")
        self.outputs = outputs
        self.widths = tuple(widths)
        self.stem = nn.ModuleList(
            [nn.Conv2d(3, widths[0], 3, padding=1), nn.Conv2d(widths[0], widths[0], 3, padding=1)]
        )
        self.down = nn.ModuleList(
            nn.Conv2d(widths[i], widths[i + 1], 3, stride=2, padding=1) for i in range(len(widths) - 1)
        )
        self.body = nn.ModuleList(nn.Conv2d(w, w, 3, padding=1) for w in widths[1:])
        self.hidden = nn.Linear(2 * widths[-1] + CONTEXT_PLANES, HEAD_HIDDEN)
        self.out = nn.Linear(HEAD_HIDDEN, outputs)
        for conv in (*self.stem, *self.down, *self.body):
            nn.init.kaiming_normal_(conv.weight, a=LEAKY_SLOPE, nonlinearity="leaky_relu")
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        context = torch.cat((x.mean(dim=(2, 3)), x.std(dim=(2, 3))), dim=1)
        y = x
        for conv in self.stem:
            y = F.leaky_relu(conv(y), LEAKY_SLOPE)
        for down, body in zip(self.down, self.body, strict=True):
            y = F.leaky_relu(down(y), LEAKY_SLOPE)
            y = F.leaky_relu(body(y), LEAKY_SLOPE)
        pooled = torch.cat((y.mean(dim=(2, 3)), y.std(dim=(2, 3)), context), dim=1)
        return self.out(F.leaky_relu(self.hidden(pooled), LEAKY_SLOPE))

    def macs_per_input_pixel(self) -> int:
        """Multiply-accumulates per input pixel (the stem at full resolution, each stage at a quarter of the last)."""

        def weights(module: nn.Module) -> int:
            return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv2d))

        total = weights(self.stem)
        for i, (down, body) in enumerate(zip(self.down, self.body, strict=True)):
            total += (weights(down) + weights(body)) // 4 ** (i + 1)
        return total


class AnalysisGraph(nn.Module):
    """The served analysis: uint8 [N, H, W, 3] crops -> float [N, 7] in served units.

    Columns as ``lumaflow.ensemble.contract.ANALYSIS_FIELDS``: noise σ, JPEG quality, blur σ and
    exposure EV (the first four raw outputs times ``scales``, the non-negative ones clamped), then the
    softmax of the three tone logits.
    """

    def __init__(self, model: Assessor, scales: tuple[float, ...]) -> None:
        super().__init__()
        if model.outputs != len(scales) + 3:
            raise ValueError(f"an analysis assessor has {len(scales) + 3} outputs, this one {model.outputs}")
        self.model = model
        self.scales: torch.Tensor
        self.register_buffer("scales", torch.tensor(scales, dtype=torch.float32), persistent=False)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        raw = self.model(pixels.permute(0, 3, 1, 2).to(torch.float32) / 255.0)
        values = raw[:, : self.scales.shape[0]] * self.scales
        sigma, quality, blur, exposure = values[:, 0:1], values[:, 1:2], values[:, 2:3], values[:, 3:4]
        measures = torch.cat((sigma.clamp(min=0.0), quality.clamp(0.0, 100.0), blur.clamp(min=0.0), exposure), dim=1)
        return torch.cat((measures, torch.softmax(raw[:, self.scales.shape[0] :], dim=1)), dim=1)


class QualityGraph(nn.Module):
    """The served quality score: uint8 [N, H, W, 3] crops -> float [N, 1], 0 (worst) to 100."""

    def __init__(self, model: Assessor) -> None:
        super().__init__()
        if model.outputs != 1:
            raise ValueError(f"a quality assessor has one output, this one {model.outputs}")
        self.model = model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return (self.model(pixels.permute(0, 3, 1, 2).to(torch.float32) / 255.0) * 100.0).clamp(0.0, 100.0)
