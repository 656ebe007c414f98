"""The looks network's push apart, as arithmetic on distances and pushes (``LookNet.separation`` runs it).

A look that comes within the margin of another on a photo is pushed away from it by a share of their difference;
what the clip at the gamut's edge takes back is pushed again, and what neither push can do is made up by darkening
the darker look of the pair. These are the rules, on tensors of distances [N, k] (one per neighbour); the looks, the
thumbnail and the LUTs stay in ``lut``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

# The served settings, chosen on the validation photos, their versions and their close-ups (docs/quality.md): the
# CIEDE2000 a look is kept from every other, the most it is pushed (a push p moves it p times its distance further
# from a neighbour), the passes (the push, then once more where clipping at the gamut's edge took some of it back)
# and the most the darker look of a pair the clip or the cap holds together is darkened (a factor on its colours
# after the clip; 1 turns it off: darkening stays inside the gamut where a push along the two looks' difference is
# clipped away).
SEPARATION_MARGIN = 3.3
SEPARATION_MAX_PUSH = 0.5
SEPARATION_PASSES = 2
SEPARATION_DARKEST = 0.9
# A pair's expected distance may fall this far under the margin before the darker look is darkened: CIEDE2000 is
# not linear in a push, so a push that nothing clipped still lands a few hundredths off its aim.
SEPARATION_SHORTFALL = 0.1


@dataclass(frozen=True)
class PushApart:
    """How ``LookNet.separation`` keeps the looks apart: the served settings by default, others for trying them
    (``looks distinct --margin ...``). A margin of 0 turns the push off; the reports record these as they ran."""

    margin: float = SEPARATION_MARGIN
    max_push: float = SEPARATION_MAX_PUSH
    passes: int = SEPARATION_PASSES
    darkest: float = SEPARATION_DARKEST

    @property
    def on(self) -> bool:
        return self.margin > 0

    def figures(self) -> dict[str, float]:
        """The settings as the reports' JSON holds them."""
        return asdict(self)


PUSH_OFF = PushApart(margin=0.0, max_push=0.0, passes=1, darkest=1.0)  # the network alone


def separation_push(margin: float, distance: torch.Tensor) -> torch.Tensor:
    """The push a neighbour at CIEDE2000 ``distance`` gets, before the cap: (margin / d - 1) / 2, none beyond it."""
    return ((margin / distance.clamp(min=1e-3) - 1.0) / 2.0).clamp(min=0.0)


def refined_push(push: torch.Tensor, aim: torch.Tensor, distance: torch.Tensor, achieved: torch.Tensor) -> torch.Tensor:
    """The push that moves a look ``aim`` CIEDE2000 further from each neighbour (first at ``distance``), given the
    distance ``push`` ``achieved``, clipped as served. Unclipped, a push p moves a look p x d further, so the aim of
    the first push p is p x d; each push is scaled by the aim over what it gained (a gain under a quarter of the
    aim counts as a quarter), and never lowered."""
    gained = torch.maximum(achieved - distance, 0.25 * aim)
    return torch.where(aim > 0, torch.maximum(push, push * aim / gained.clamp(min=1e-6)), push)


def darkening_target(
    margin: float, distance: torch.Tensor, achieved: torch.Tensor, darker_pushed: torch.Tensor
) -> torch.Tensor:
    """[N, k]: the CIEDE2000 a look must reach from each neighbour (first at ``distance``) by darkening, or 0 where it
    need not. A push alone ``achieved`` a gain; with the neighbour's own push (assumed to gain as much) the pair
    should reach the margin. Where the cap or the clip leaves it more than SEPARATION_SHORTFALL short, the darker
    look of the pair (``darker_pushed``: it is darker and was pushed) makes up the rest alone: margin - its gain."""
    gain = (achieved - distance).clamp(min=0.0)
    short = margin - (distance + 2.0 * gain) > SEPARATION_SHORTFALL
    return torch.where(short & darker_pushed, margin - gain, 0.0)


def push_correction(push: torch.Tensor, baked: torch.Tensor) -> torch.Tensor:
    """[N, 3, S**3]: the sum over neighbours of push x (the look - neighbour) at the LUT's nodes (``baked``: the look
    itself, then its neighbours)."""
    return push.sum(1).reshape(-1, 1, 1) * baked[:, 0] - torch.einsum("nk,nkcs->ncs", push, baked[:, 1:])
