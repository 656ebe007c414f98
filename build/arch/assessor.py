"""A small image assessor: one crop in, a few numbers out (the analysis network and the quality score).

Noise, JPEG blocking and blur live in the finest pixels, so the first two convolutions run at full
resolution; three stride-2 stages then widen the view to 8x8 blocks and beyond (the JPEG grid, when
crops are taken on it). Global pooling keeps the mean *and* the standard deviation of the last
features (noise shows as variance, not as a mean), and the crop's per-channel mean and standard
deviation join them, so exposure and colour cast need no deep path. The head is a two-layer MLP.

Output is raw (``outputs`` numbers per crop); what each number means, and the scaling to served
units, belongs to the recipe and to `AnalysisGraph` / `QualityGraph`, not to the architecture.

`PhotoAssessor` scores a whole photo from its grid of crops: the same per-crop features, pooled over
the crops (mean and max) before its head, so the score can rest on the photo's sharpest crops.
"""

from __future__ import annotations

from collections.abc import Iterator

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

    def __init__(self, *, outputs: int | None, widths: tuple[int, ...] = (32, 48, 64, 96)) -> None:
        """``outputs`` None builds the convolutions only, for `PhotoAssessor` (``features``, no head)."""
        super().__init__()
        if (outputs is not None and outputs < 1) or len(widths) < 2:
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
        self.features_per_crop = 2 * widths[-1] + CONTEXT_PLANES
        if outputs is not None:
            self.hidden = nn.Linear(self.features_per_crop, HEAD_HIDDEN)
            self.out = nn.Linear(HEAD_HIDDEN, outputs)
        for conv in (*self.stem, *self.down, *self.body):
            nn.init.kaiming_normal_(conv.weight, a=LEAKY_SLOPE, nonlinearity="leaky_relu")
            nn.init.zeros_(conv.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[N, features_per_crop]: the last stage's mean and std, then the crop's own mean and std."""
        context = torch.cat((x.mean(dim=(2, 3)), x.std(dim=(2, 3))), dim=1)
        y = x
        for conv in self.stem:
            y = F.leaky_relu(conv(y), LEAKY_SLOPE)
        for down, body in zip(self.down, self.body, strict=True):
            y = F.leaky_relu(down(y), LEAKY_SLOPE)
            y = F.leaky_relu(body(y), LEAKY_SLOPE)
        return torch.cat((y.mean(dim=(2, 3)), y.std(dim=(2, 3)), context), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outputs is None:
            raise TypeError("this Assessor has no head (outputs=None); call features()")
        return self.out(F.leaky_relu(self.hidden(self.features(x)), LEAKY_SLOPE))

    def macs_per_input_pixel(self) -> int:
        """Multiply-accumulates per input pixel (the stem at full resolution, each stage at a quarter of the last)."""

        def weights(module: nn.Module) -> int:
            return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv2d))

        total = weights(self.stem)
        for i, (down, body) in enumerate(zip(self.down, self.body, strict=True)):
            total += (weights(down) + weights(body)) // 4 ** (i + 1)
        return total


class PhotoAssessor(nn.Module):
    """Float [N, K, 3, H, W] (K crops of each of N photos, RGB in [0, 1]) -> float [N, outputs].

    The crops' features (``crops``, an `Assessor` without head) are pooled over the K crops, their
    mean and their max, and one head scores the photo. The max is what separates a soft scene (some
    crops sharp) from a blurred photo (none); a median of per-crop scores could not. State-dict keys:
    ``crops.*`` as an `Assessor`'s convolutions, ``hidden`` and ``out``.
    """

    def __init__(self, *, outputs: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        self.outputs = outputs
        self.widths = tuple(widths)
        self.crops = Assessor(outputs=None, widths=widths)
        self.hidden = nn.Linear(2 * self.crops.features_per_crop, HEAD_HIDDEN)
        self.out = nn.Linear(HEAD_HIDDEN, outputs)

    @classmethod
    def from_crop_assessor(cls, model: Assessor) -> PhotoAssessor:
        """Start from a per-crop assessor: its convolutions, and its head reading the crops' mean features."""
        if model.outputs is None:
            raise ValueError("the crop assessor needs its head")
        photo = cls(outputs=model.outputs, widths=model.widths)
        photo.crops.load_state_dict(
            {k: v for k, v in model.state_dict().items() if not k.startswith(("hidden.", "out."))}
        )
        per_crop = model.features_per_crop
        with torch.no_grad():
            photo.hidden.weight.zero_()
            photo.hidden.weight[:, :per_crop] = model.hidden.weight
            photo.hidden.bias.copy_(model.hidden.bias)
            photo.out.load_state_dict(model.out.state_dict())
        return photo

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, k = x.shape[0], x.shape[1]
        features = self.crops.features(x.flatten(0, 1)).reshape(n, k, -1)
        pooled = torch.cat((features.mean(dim=1), features.amax(dim=1)), dim=1)
        return self.out(F.leaky_relu(self.hidden(pooled), LEAKY_SLOPE))

    def pretrained_parameters(self) -> Iterator[nn.Parameter]:
        """The crop convolutions (`from_crop_assessor` brings them trained; the head is new)."""
        return self.crops.parameters()

    def macs_per_input_pixel(self) -> int:
        return self.crops.macs_per_input_pixel()


class AnalysisGraph(nn.Module):
    """The served analysis: uint8 [N, H, W, 3] crops -> float [N, 7] in served units.

    Columns as ``lumaflow.contract.ANALYSIS_FIELDS``: noise σ, JPEG quality, blur σ and
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
    """The served quality score: uint8 [N, K, H, W, 3] (K crops of each of N photos) -> float [N, 1], 0 to 100."""

    def __init__(self, model: PhotoAssessor) -> None:
        super().__init__()
        if model.outputs != 1:
            raise ValueError(f"a quality assessor has one output, this one {model.outputs}")
        self.model = model

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return (self.model(crops.permute(0, 1, 4, 2, 3).to(torch.float32) / 255.0) * 100.0).clamp(0.0, 100.0)
