"""Image-adaptive 3D LUTs (Zeng et al., "Learning Image-adaptive 3D Lookup Tables", 2020) for the looks.

A colourist's grade is mostly a colour transform (curves, white balance, channel mixing,
saturation) whose settings depend on the whole photo (its levels, its cast, its exposure). A 3D
LUT applies any such transform at a few gathers per pixel, whatever its complexity; the
adaptivity comes from a small CNN that looks at a 64 x 64 thumbnail of the photo and mixes a few
basis LUTs per look. The CNN's cost is fixed per photo, so per-pixel cost is one trilinear lookup.

Before the lookup each photo gets its look's *input curve*, also predicted by the CNN: a gain and an offset per
channel, then one gamma. That is the form of the gradings' adaptive corrections (white balance, levels,
exposure, in that order), which a mix of a few basis LUTs can only approximate; the LUTs keep the fixed
colour work.

Every look (``template``) has its own ``basis`` LUTs; the CNN predicts weights for all looks and
each photo takes the ones of its own look, so one batch can mix looks. The first basis LUT of
each look starts as the identity and the CNN as "weight 1 on it": an untrained network returns
the photo (up to float rounding).

Served (the module in eval mode), each look is also kept apart from the others on the photo at hand
(``LookNet.separation``): every look is run on a small thumbnail, and where another comes within
``PushApart.margin`` CIEDE2000 of the asked-for look, the asked-for look is pushed away from it by a correction
LUT. Issue 30 asks for every pair of looks to differ by 3 on every photo; training keeps the looks apart on the
training photos, the push keeps them apart on photos unlike them (a saturated close-up where the warm looks all
land in one corner of the gamut). Nothing is pushed where the looks are far enough apart: the output is then
exactly the lookup's.

Trilinear interpolation is written with ``gather`` on the flattened LUT, which exports to ONNX's
GatherElements with dynamic height and width (``grid_sample`` has no 5-D ONNX form before opset 20).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from lumaflow.build.arch.colour import ciede2000, srgb_to_lab
from lumaflow.build.arch.lut_push import (
    PushApart,
    darkening_target,
    push_correction,
    refined_push,
    separation_push,
)

THUMBNAIL = 64  # the side of the square thumbnail the CNN sees
PRE_POOL = 4  # bilinear to THUMBNAIL x PRE_POOL, then average PRE_POOL x PRE_POOL: a cheap anti-alias
# Per channel: mean, standard deviation, max - min of the thumbnail; then its luma at QUANTILES (the levels a
# grading reads from the photo's own percentiles).
QUANTILES = (0.01, 0.1, 0.5, 0.9, 0.99)
STATISTICS = 9 + len(QUANTILES)
# The per-photo input curve of each look: log gain and offset per channel, then one log gamma (see ``pre_curve``).
CURVE = 7
MAX_LOG_GAMMA = 0.7  # gamma within 0.5-2: the gradings' exposure gammas stay within 0.6-1.6
# Gain within 0.14-7.4 and offset within +-2 (a full levels stretch of a flat photo needs a gain of 3-5): bounds
# that keep any prediction finite, so the served graph never turns a photo into NaN.
MAX_LOG_GAIN = 2.0
MAX_OFFSET = 2.0
LEAKY_SLOPE = 0.2
LUMA = (0.299, 0.587, 0.114)
# The LUTs are stored divided by this and multiplied back in ``forward``: Adam moves every parameter
# by about the learning rate per step, so this is the LUTs' learning rate relative to the CNN's. A
# LUT node only gets a gradient when its look is drawn and a pixel falls near it; at the CNN's rate
# the nodes had moved a third of the way to mono_classic's greys after 300 steps (ΔE 12.7).
LUT_GAIN = 8.0
# The served push apart (``LookNet.separation``; its settings are ``lut_push.PushApart``): the thumbnail side the
# looks' distances are measured at, and the step of the darkening's factors.
SEPARATION_SIDE = 32
SEPARATION_DARKEN_STEP = 0.01
SEPARATION_NEIGHBOURS = 3  # the nearest looks a look can be pushed from (rarely more than one comes within the margin)


def identity_lut(size: int) -> torch.Tensor:
    """[3, size**3]: output colour = input colour at every node; index = (r * size + g) * size + b."""
    axis = torch.linspace(0.0, 1.0, size)
    r, g, b = torch.meshgrid(axis, axis, axis, indexing="ij")
    return torch.stack((r, g, b)).reshape(3, size**3)


def apply_lut(image: torch.Tensor, lut: torch.Tensor) -> torch.Tensor:
    """Trilinear lookup of float NCHW ``image`` in [0, 1] through per-image ``lut`` [N, 3, S**3]."""
    n, _, h, w = image.shape
    size = round(lut.shape[-1] ** (1.0 / 3.0))
    pos = image.clamp(0.0, 1.0).reshape(n, 3, h * w) * (size - 1)
    lower = pos.floor().clamp(max=size - 2)  # 1.0 lands in the last cell with fraction 1
    frac = pos - lower
    index = lower.to(torch.int64)
    r, g, b = index[:, 0:1], index[:, 1:2], index[:, 2:3]
    fr, fg, fb = frac[:, 0:1], frac[:, 1:2], frac[:, 2:3]
    out = torch.zeros_like(pos)
    for dr in (0, 1):
        wr = fr if dr else 1.0 - fr
        for dg in (0, 1):
            wg = fg if dg else 1.0 - fg
            for db in (0, 1):
                wb = fb if db else 1.0 - fb
                flat = ((r + dr) * size + (g + dg)) * size + (b + db)
                out = out + wr * wg * wb * torch.gather(lut, 2, flat.expand(n, 3, h * w))
    return out.reshape(n, 3, h, w)


class Nearest(NamedTuple):
    """A photo's nearest looks to its asked-for look on the thumbnail (``LookNet.nearest_looks``)."""

    distance: torch.Tensor  # [N, k] mean CIEDE2000, nearest first
    looks: torch.Tensor  # [N, k] which looks
    points: torch.Tensor  # [N, 1, 3, P] the thumbnail's colours the looks ran on
    own_lab: torch.Tensor  # [N, 1, 3, P] the asked-for look there, clipped, in Lab
    near_lab: torch.Tensor  # [N, k, 3, P] the nearest looks there, clipped, in Lab


class LookNet(nn.Module):
    """(float NCHW RGB in [0, 1], int64 template [N], float strength [N]) -> float NCHW RGB in [0, 1].

    State-dict keys: ``luts`` [templates, basis, 3, size**3] (divided by ``LUT_GAIN``);
    ``features.{0,2,4,6}`` (3x3 stride-2 convs, widths ``width``, 2 x ``width``, 4 x ``width``,
    4 x ``width``); ``hidden``, ``weights`` (templates x basis outputs) and ``curves`` (templates x
    CURVE outputs: each look's input curve); ``mean_weights`` [templates, basis] and ``mean_curves``
    [templates, CURVE], buffers holding the training set's average predictions per look (the
    fixed-LUT baseline of the evaluation).
    """

    mean_weights: torch.Tensor
    mean_curves: torch.Tensor

    def __init__(self, *, templates: int = 12, basis: int = 3, size: int = 17, width: int = 16) -> None:
        super().__init__()
        self.templates, self.basis, self.size, self.width = templates, basis, size, width
        luts = torch.zeros(templates, basis, 3, size**3)
        luts[:, 0] = identity_lut(size)
        self.luts = nn.Parameter(luts / LUT_GAIN)
        widths = (3, width, 2 * width, 4 * width, 4 * width)
        layers: list[nn.Module] = []
        for cin, cout in itertools.pairwise(widths):
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.LeakyReLU(LEAKY_SLOPE)]
        self.features = nn.Sequential(*layers)
        self.hidden = nn.Linear(widths[-1] + STATISTICS, 64)
        self.weights = nn.Linear(64, templates * basis)
        nn.init.zeros_(self.weights.weight)
        self.curves = nn.Linear(64, templates * CURVE)  # zero: gain 1, offset 0, gamma 1
        nn.init.zeros_(self.curves.weight)
        nn.init.zeros_(self.curves.bias)
        start = torch.zeros(templates, basis)
        start[:, 0] = 1.0  # the identity LUT, fully
        with torch.no_grad():
            self.weights.bias.copy_(start.reshape(-1))
        self.register_buffer("mean_weights", start.clone())
        self.register_buffer("mean_curves", torch.zeros(templates, CURVE))
        self.momentum = 0.01  # of the running average of the predicted weights (training only)
        self.push_apart = PushApart()  # served behaviour, not learned state: the weights file does not hold it

    def thumbnail(self, image: torch.Tensor) -> torch.Tensor:
        side = THUMBNAIL * PRE_POOL
        large = F.interpolate(image, size=(side, side), mode="bilinear", align_corners=False)
        return F.avg_pool2d(large, PRE_POOL)

    def statistics(self, thumb: torch.Tensor) -> torch.Tensor:
        """[N, STATISTICS]: whole-photo levels and cast: mean, spread and range per channel, luma quantiles."""
        flat = thumb.flatten(2)
        luma = (flat * flat.new_tensor(LUMA).reshape(1, 3, 1)).sum(1)
        ordered = torch.sort(luma, dim=1).values
        last = ordered.shape[1] - 1
        quantiles = ordered[:, [round(q * last) for q in QUANTILES]]
        return torch.cat((flat.mean(2), flat.std(2), flat.amax(2) - flat.amin(2), quantiles), dim=1)

    def predict_all(self, thumb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """([N, templates, basis], [N, templates, CURVE]): every look's LUT weights and input curve for each photo,
        read from its ``thumbnail``."""
        pooled = self.features(thumb).mean((2, 3))
        hidden = F.leaky_relu(self.hidden(torch.cat((pooled, self.statistics(thumb)), dim=1)), LEAKY_SLOPE)
        weights = self.weights(hidden).reshape(-1, self.templates, self.basis)
        return weights, self.curves(hidden).reshape(-1, self.templates, CURVE)

    def mixed_lut(self, weights: torch.Tensor, template: torch.Tensor) -> torch.Tensor:
        """[N, 3, size**3]: the template's basis LUTs mixed by ``weights`` [N, basis]."""
        chosen = self.luts[template] * LUT_GAIN  # [N, basis, 3, S**3]
        return (weights.reshape(-1, self.basis, 1, 1) * chosen).sum(1)

    def pre_curve(self, image: torch.Tensor, curve: torch.Tensor) -> torch.Tensor:
        """clamp(gain * x + offset, 0, 1) ** gamma per photo: the look's adaptive correction (``curve`` [N, CURVE])."""
        gain, offset, gamma = (part.unsqueeze(-1) for part in _curve_parameters(curve))
        return (gain * image + offset).clamp(1e-4, 1.0) ** gamma

    def curved_correction(self, correction: torch.Tensor, curve: torch.Tensor) -> torch.Tensor:
        """[N, 3, size**3]: ``correction`` (a LUT indexed by the photo's colours) re-indexed by the colours after
        the look's input curve, so it adds to the look's own LUT and one lookup does both: at each node, the
        correction at the colour the curve takes there (its inverse, clipped to the colour cube). The two forms
        differ by the lattice's interpolation, and where the curve clips a channel: there the look is flat in the
        photo's colour, and the folded correction is too."""
        gain, offset, gamma = _curve_parameters(curve)
        nodes = identity_lut(self.size).to(correction).unsqueeze(0).clamp(min=1e-4)  # [1, 3, S**3]
        photo_colours = ((nodes ** (1.0 / gamma) - offset) / gain).clamp(0.0, 1.0)  # [N, 3, S**3]
        return apply_lut(photo_colours.unsqueeze(2), correction).squeeze(2)

    def grade(
        self, image: torch.Tensor, template: torch.Tensor, weights: torch.Tensor, curve: torch.Tensor
    ) -> torch.Tensor:
        return apply_lut(self.pre_curve(image, curve), self.mixed_lut(weights, template))

    def forward(self, image: torch.Tensor, template: torch.Tensor, strength: torch.Tensor) -> torch.Tensor:
        thumb = self.thumbnail(image)
        every_weights, every_curve = self.predict_all(thumb)
        weights, curve = _take(every_weights, template), _take(every_curve, template)
        if self.training:
            self._track(weights.detach(), curve.detach(), template)
        lut = self.mixed_lut(weights, template)
        factor = None
        if not self.training and self.push_apart.on:
            correction, factor = self.separation(thumb, template, every_weights, every_curve)
            lut = lut + self.curved_correction(correction, curve)  # zero, and the lookup unchanged, where no push
        # The look is clamped before the blend, so a partial strength lies on the line between the photo and
        # the full look as the client sees it (a LUT may overshoot 1, which the full-strength output clips).
        graded = apply_lut(self.pre_curve(image, curve), lut).clamp(0.0, 1.0)
        if factor is not None:
            graded = graded * factor.reshape(-1, 1, 1, 1)  # the darkening, after the clip (1: unchanged, bit for bit)
        amount = strength.clamp(0.0, 1.0).reshape(-1, 1, 1, 1)
        return image + amount * (graded - image)

    def separation(
        self, thumb: torch.Tensor, template: torch.Tensor, every_weights: torch.Tensor, every_curve: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """([N, 3, size**3], [N]): the correction LUT that pushes each photo's look away from the looks that come
        within ``push_apart.margin`` of it on the photo's ``thumbnail`` (zero where none does), and the factor the
        look is darkened by after the clip (1 where it need not be: ``_darkening``).

        Every look is run on the thumbnail, pooled to ``SEPARATION_SIDE``; the ``SEPARATION_NEIGHBOURS`` nearest to
        the asked-for look are then run on the LUT's lattice nodes, with the look itself (so each, input curve and
        all, is one LUT of its output colours). A neighbour j at CIEDE2000 d < margin gets a push
        p = (margin / d - 1) / 2, at most ``push_apart.max_push``, and the correction is the sum of
        p x (this look - look j) at the nodes. Both looks of a pair are pushed when each is asked for, so their
        distance grows by about 1 + 2p: to the margin, unless clipping at the gamut's edge takes some back.
        Each further pass of ``push_apart.passes`` measures each neighbour's push alone on the thumbnail, clipped
        as served, and raises it by what the clip took back (``refined_push``), within the same cap. (Alone: with
        several neighbours the pushes partly cancel, which is no clipping and no reason to push harder.) It
        measures the correction added after the look; ``forward`` folds it into the look's LUT
        (``curved_correction``), which differs only by the lattice's interpolation and where the input curve clips.
        Where the clip or the cap still holds a pair together, the darker look is darkened after the clip
        (``darkening_target``, ``_darkening``), which no clip undoes; it reads the further passes' measure, so with
        ``push_apart.passes`` 1 nothing is darkened.
        """
        n, settings = thumb.shape[0], self.push_apart
        every_lut = self.every_lut(every_weights)
        nearest = self.nearest_looks(thumb, template, every_lut, every_curve)
        near_distance, near = nearest.distance, nearest.looks
        push = separation_push(settings.margin, near_distance).clamp(max=settings.max_push)  # [N, k]
        chosen = torch.cat((template.reshape(-1, 1), near), dim=1)  # [N, 1 + k]: the look itself, then its nearest
        lut_index = chosen.reshape(n, -1, 1, 1).expand(-1, -1, 3, every_lut.shape[-1])
        curve_index = chosen.reshape(n, -1, 1).expand(-1, -1, CURVE)
        luts, curves = torch.gather(every_lut, 1, lut_index), torch.gather(every_curve, 1, curve_index)
        nodes = identity_lut(self.size).to(thumb).reshape(1, 1, 3, -1).expand(n, chosen.shape[1], -1, -1)
        baked = self._run_looks(nodes, luts, curves)  # [N, 1 + k, 3, size**3]
        correction = push_correction(push, baked)
        if settings.passes > 1:
            small, near_lab = nearest.points, nearest.near_lab
            unclipped = self._run_looks(small, luts[:, :1], curves[:, :1], clip=False)  # [N, 1, 3, side**2]
            away = baked[:, :1] - baked[:, 1:]  # [N, k, 3, size**3]: this look - each neighbour, at the nodes
            step = apply_lut(small.expand_as(near_lab).reshape(-1, 3, 1, near_lab.shape[-1]), away.flatten(0, 1))
            step = step.reshape(near_lab.shape)  # what a push of 1 from each neighbour alone adds on the thumbnail
            aim = push * near_distance
            for _ in range(settings.passes - 1):
                achieved = _distance_alone(unclipped, push, step, near_lab)
                push = refined_push(push, aim, near_distance, achieved).clamp(max=settings.max_push)
            correction = push_correction(push, baked)
            if settings.darkest < 1.0:
                achieved = _distance_alone(unclipped, push, step, near_lab)
                pushed = unclipped + (push.reshape(n, -1, 1, 1) * step).sum(1, keepdim=True)  # [N, 1, 3, P]
                # [N, k]: which of each pair is darker, unpushed (the same answer from either side)
                darker = nearest.own_lab[:, :, 0].mean(2) < near_lab[:, :, 0].mean(2)
                needed = darkening_target(settings.margin, near_distance, achieved, (aim > 0) & darker)
                return correction, self._darkening(pushed, near_lab, needed)
        return correction, torch.ones(n, dtype=thumb.dtype, device=thumb.device)

    def _darkening(self, pushed: torch.Tensor, near_lab: torch.Tensor, needed: torch.Tensor) -> torch.Tensor:
        """[N]: the largest factor, down to ``push_apart.darkest`` in steps of SEPARATION_DARKEN_STEP, that darkens
        the pushed look ([N, 1, 3, P] on the thumbnail, unclipped) at least ``needed`` [N, k] from each neighbour
        ([N, k, 3, P] Lab), or ``push_apart.darkest``. The look is darkened after the clip: a factor on colours past
        the gamut's edge would leave them past it."""
        steps = round((1.0 - self.push_apart.darkest) / SEPARATION_DARKEN_STEP)
        factors = 1.0 - SEPARATION_DARKEN_STEP * torch.arange(steps + 1, dtype=pushed.dtype, device=pushed.device)
        n, k = needed.shape
        candidates = factors.reshape(1, -1, 1, 1) * pushed.clamp(0.0, 1.0)  # [N, F, 3, P]
        lab = _lab(candidates)
        distance = torch.stack(  # [N, F, k]: each candidate's distance to each neighbour
            [
                ciede2000(lab.transpose(1, 2), near_lab[:, j : j + 1].expand_as(lab).transpose(1, 2)).mean(2)
                for j in range(k)
            ],
            dim=2,
        )
        enough = (distance >= needed.unsqueeze(1)).all(2)  # [N, F]
        first = torch.where(enough.any(1), enough.float().argmax(1), torch.full((n,), steps, device=pushed.device))
        return factors[first]

    def every_lut(self, every_weights: torch.Tensor) -> torch.Tensor:
        """[N, looks, 3, size**3]: every look's basis LUTs mixed by its weights for each photo."""
        return torch.einsum("ntb,tbcs->ntcs", every_weights, self.luts * LUT_GAIN)

    def nearest_looks(
        self, thumb: torch.Tensor, template: torch.Tensor, every_lut: torch.Tensor, every_curve: torch.Tensor
    ) -> Nearest:
        """Each photo's ``SEPARATION_NEIGHBOURS`` nearest looks to its asked-for look, by mean CIEDE2000 on the
        thumbnail pooled to ``SEPARATION_SIDE``, nearest first, with the Lab colours the push reads again."""
        looks = self.templates
        small = self._separation_points(thumb)
        lab = _lab(self._run_looks(small.expand(-1, looks, -1, -1), every_lut, every_curve))  # [N, looks, 3, P]
        own = template.reshape(-1, 1)
        own_lab = torch.gather(lab, 1, own.reshape(-1, 1, 1, 1).expand(-1, 1, *lab.shape[2:]))
        distance = ciede2000(own_lab.expand_as(lab).transpose(1, 2), lab.transpose(1, 2)).mean(2)  # [N, looks]
        distance = distance.masked_fill(torch.arange(looks, device=thumb.device).reshape(1, -1) == own, 1e6)
        near_distance, near = torch.topk(distance, min(SEPARATION_NEIGHBOURS, looks - 1), dim=1, largest=False)
        near_lab = torch.gather(lab, 1, near.reshape(*near.shape, 1, 1).expand(-1, -1, *lab.shape[2:]))
        return Nearest(near_distance, near, small, own_lab, near_lab)

    def _separation_points(self, thumb: torch.Tensor) -> torch.Tensor:
        """[N, 1, 3, side**2]: the thumbnail pooled to ``SEPARATION_SIDE``, as colours to run looks on."""
        return F.adaptive_avg_pool2d(thumb, SEPARATION_SIDE).flatten(2).unsqueeze(1)

    def _run_looks(
        self, points: torch.Tensor, luts: torch.Tensor, curves: torch.Tensor, *, clip: bool = True
    ) -> torch.Tensor:
        """[N, L, 3, P] colours through L looks each ([N, L, 3, S**3] LUTs, [N, L, CURVE] input curves), clipped
        unless ``clip`` is False."""
        n, count, _, size = points.shape
        flat = points.reshape(n * count, 3, 1, size)
        out = apply_lut(self.pre_curve(flat, curves.reshape(n * count, CURVE)), luts.reshape(n * count, 3, -1))
        out = out.reshape(n, count, 3, size)
        return out.clamp(0.0, 1.0) if clip else out

    def fixed(self, image: torch.Tensor, template: torch.Tensor) -> torch.Tensor:
        """The look as one fixed colour transform per template (the training set's average predictions): no
        adaptivity. An average input curve followed by an average LUT mix is itself one fixed 3D LUT."""
        weights, curve = self.mean_weights[template], self.mean_curves[template]
        return self.grade(image, template, weights, curve).clamp(0.0, 1.0)

    @torch.no_grad()
    def _track(self, weights: torch.Tensor, curve: torch.Tensor, template: torch.Tensor) -> None:
        for t in template.unique().tolist():
            chosen = template == t
            self.mean_weights[t].lerp_(weights[chosen].mean(0), self.momentum)
            self.mean_curves[t].lerp_(curve[chosen].mean(0), self.momentum)

    def macs_per_input_pixel(self) -> int:
        """Eight gathers and weights per channel per pixel (the CNN's fixed cost is per photo, not counted)."""
        return 8 * 3 * 2


def _curve_parameters(curve: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """([N, 3, 1], [N, 3, 1], [N, 1, 1]): the input curve's gain, offset and gamma, within their bounds, from the
    network's ``curve`` outputs [N, CURVE] (log gains, offsets, log gamma)."""
    gain = torch.exp(curve[:, 0:3].clamp(-MAX_LOG_GAIN, MAX_LOG_GAIN)).reshape(-1, 3, 1)
    offset = curve[:, 3:6].clamp(-MAX_OFFSET, MAX_OFFSET).reshape(-1, 3, 1)
    gamma = torch.exp(curve[:, 6:7].clamp(-MAX_LOG_GAMMA, MAX_LOG_GAMMA)).reshape(-1, 1, 1)
    return gain, offset, gamma


def _distance_alone(
    unclipped: torch.Tensor, push: torch.Tensor, step: torch.Tensor, near_lab: torch.Tensor
) -> torch.Tensor:
    """[N, k]: the mean CIEDE2000 from each neighbour ([N, k, 3, P] Lab on the thumbnail) of the look ([N, 1, 3, P],
    unclipped) with that neighbour's push alone ([N, k] times its ``step`` [N, k, 3, P]), clipped as served."""
    alone = (unclipped + push.reshape(*push.shape, 1, 1) * step).clamp(0.0, 1.0)
    return ciede2000(_lab(alone).transpose(1, 2), near_lab.transpose(1, 2)).mean(2)


def _lab(colours: torch.Tensor) -> torch.Tensor:
    """[N, L, 3, P] sRGB in [0, 1] -> CIELAB, same shape."""
    n, count, _, points = colours.shape
    return srgb_to_lab(colours.reshape(n * count, 3, 1, points)).reshape(n, count, 3, points)


def _take(every: torch.Tensor, template: torch.Tensor) -> torch.Tensor:
    """[N, templates, K] -> [N, K]: each photo's own template's row (one batch may mix looks)."""
    index = template.reshape(-1, 1, 1).expand(-1, 1, every.shape[2])
    return torch.gather(every, 1, index).reshape(-1, every.shape[2])


class LooksGraph(nn.Module):
    """The served interface: uint8 PIXELS [N, H, W, 3], int32 TEMPLATE [N, 1], float32 STRENGTH [N, 1] -> uint8."""

    def __init__(self, model: LookNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor, template: torch.Tensor, strength: torch.Tensor) -> torch.Tensor:
        x = pixels.permute(0, 3, 1, 2).to(torch.float32) / 255.0
        y = self.model(x, template.reshape(-1).to(torch.int64), strength.reshape(-1)) * 255.0
        return torch.round(y).to(torch.uint8).permute(0, 2, 3, 1)  # round, not truncate, as PixelsGraph does


def export_looks_onnx(graph: LooksGraph, path: str | os.PathLike[str], names: Sequence[str], output_name: str) -> None:
    """Export with dynamic batch, height and width; TEMPLATE and STRENGTH share the batch axis."""
    if len(names) != 3:
        raise ValueError(f"the looks graph takes PIXELS, TEMPLATE and STRENGTH, not {list(names)}")

    from lumaflow.build.export import export_program, image_axes

    batch, height, width = image_axes()
    example = (
        torch.zeros(2, 32, 48, 3, dtype=torch.uint8),
        torch.tensor([[0], [1]], dtype=torch.int32),
        torch.ones(2, 1, dtype=torch.float32),
    )
    dynamic = ({0: batch, 1: height, 2: width}, {0: batch}, {0: batch})
    export_program(graph, path, example, dynamic, names, output_name)


def looknet_hyperparameters(state: Mapping[str, torch.Tensor]) -> dict[str, int] | None:
    """LookNet's hyper-parameters from its state dict's shapes, or None if it is not a LookNet's."""
    if "luts" not in state or "mean_weights" not in state or "features.0.weight" not in state:
        return None
    luts = state["luts"]
    if luts.ndim != 4 or luts.shape[2] != 3:
        return None
    size = round(int(luts.shape[3]) ** (1.0 / 3.0))
    hp = {
        "templates": int(luts.shape[0]),
        "basis": int(luts.shape[1]),
        "size": size,
        "width": int(state["features.0.weight"].shape[0]),
    }
    if size**3 != luts.shape[3]:
        return None
    expected = LookNet(**hp).state_dict()
    if set(state) != set(expected) or any(tuple(v.shape) != tuple(expected[k].shape) for k, v in state.items()):
        return None
    return {"scale": 1, "in_channels": 3, "out_channels": 3, **hp}
