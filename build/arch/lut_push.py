"""The looks network's push apart, as arithmetic on distances and pushes (``LookNet.separation`` runs it).

A look that comes within the margin of another on a photo is pushed away from it by a share of their difference;
what the clip at the gamut's edge takes back is pushed again, and what neither push can do is made up by darkening
the darker look of the pair. These are the rules, on tensors of distances [N, k] (one per neighbour); the looks, the
thumbnail and the LUTs stay in ``lut``.
"""

from __future__ import annotations

import torch

# A pair's expected distance may fall this far under the margin before the darker look is darkened: CIEDE2000 is
# not linear in a push, so a push that nothing clipped still lands a few hundredths off its aim.
SEPARATION_SHORTFALL = 0.1


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
