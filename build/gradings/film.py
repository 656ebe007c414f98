"""Film stocks: the colour and tone signatures of photographic films."""

from __future__ import annotations

import numpy as np

from .blocks import (
    Image,
    channel_gamma,
    channel_mix,
    contrast,
    exposure_to,
    grey_world,
    levels,
    lift_roll,
    s_curve,
    saturation,
    saturation_to,
    split_tone,
    tint_mids,
    vibrance,
)


def warm_film(x: Image) -> Image:
    """grey world 0.5, exposure to 0.45; warm highlight tone, S curve 0.35, lifted warm blacks, saturation 0.95"""
    x = exposure_to(grey_world(x, 0.5), 0.45, 0.5)
    x = split_tone(x, (0.0, 0.0, 0.0), (0.09, 0.03, -0.07))
    x = lift_roll(s_curve(x, 0.35), (0.08, 0.06, 0.05), (0.98, 0.97, 0.94))
    return saturation(x, 0.95)


def cross_process(x: Image) -> Image:
    """levels 1-99 % by 0.6; hard red curve, soft green, blue squeezed into 0.25-0.75, yellow-green highlights"""
    x = levels(x, 1.0, 99.0, 0.6)
    r = s_curve(x[..., 0:1], 0.8)
    g = s_curve(x[..., 1:2], 0.4) * 1.05
    b = lift_roll(x[..., 2:3], 0.25, 0.75)  # blue shadows, yellow highlights
    x = split_tone(np.concatenate((r, g, b), axis=-1), (0.0, 0.0, 0.1), (0.03, 0.12, -0.05))
    return saturation(x, 1.15)


def portra_soft(x: Image) -> Image:
    """levels 0.5-99.5 % by 0.5, exposure to 0.54; contrast 0.75, cyan shadows, peach highlights, vibrance 0.3"""
    x = exposure_to(levels(x, 0.5, 99.5, 0.5), 0.54, 0.7)
    x = split_tone(contrast(x, 0.75, 0.45), (-0.06, 0.02, 0.06), (0.09, 0.03, -0.02))
    return lift_roll(vibrance(saturation(x, 0.85), 0.3), 0.04, 0.97)


def velvia_punch(x: Image) -> Image:
    """levels 0.5-99.5 % by 0.8, exposure to 0.43; saturation to 0.2, dense S curve, violet shadows"""
    x = saturation_to(exposure_to(levels(x, 0.5, 99.5, 0.8), 0.43, 0.6), 0.2, 0.8)
    x = channel_mix(s_curve(x, 0.6), ((1.05, -0.05, 0.0), (0.0, 1.0, 0.0), (-0.05, -0.05, 1.1)))
    return split_tone(x, (0.06, -0.03, 0.08), (0.03, -0.02, 0.02))


def ektachrome_cool(x: Image) -> Image:
    """cool grey world 0.6, levels 1-99 % by 0.5, exposure to 0.62; cyan mids, crisp curve, saturation 1.25"""
    x = exposure_to(levels(grey_world(x, 0.6, (0.95, 1.0, 1.07)), 1.0, 99.0, 0.5), 0.62, 0.6)
    x = tint_mids(s_curve(x, 0.4), (-0.11, 0.04, 0.06))
    return saturation(x, 1.25)


def cinestill_tungsten(x: Image) -> Image:
    """exposure to 0.35; tungsten-balanced blue cast, red halation in the highlights, teal shadows"""
    x = exposure_to(x, 0.35, 0.8)
    x = channel_gamma(x, (1.25, 1.0, 0.7))
    x = split_tone(x, (-0.05, 0.03, 0.08), (0.16, -0.02, -0.05))
    return s_curve(x, 0.3)


def expired_film(x: Image) -> Image:
    """saturation to 0.05, exposure to 0.55; magenta shadows, green highlights, blacks lifted to 0.1"""
    x = exposure_to(saturation_to(x, 0.05, 0.8), 0.55, 0.6)
    x = split_tone(x, (0.08, -0.03, 0.07), (-0.05, 0.07, -0.06))
    return lift_roll(contrast(x, 0.8), (0.12, 0.08, 0.1), (0.95, 0.97, 0.88))


def instant_print(x: Image) -> Image:
    """levels 2-98 % by 0.7; compressed highlights, green-cyan shadows, creamy whites, saturation 0.8"""
    x = levels(x, 2.0, 98.0, 0.7)
    x = channel_gamma(np.clip(x, 0.0, 1.0) * 0.85, (1.2, 0.95, 0.9))
    x = split_tone(x, (-0.06, 0.04, 0.01), (0.05, 0.04, 0.0))
    return saturation(lift_roll(x, (0.05, 0.08, 0.09), (1.0, 0.98, 0.9)), 0.8)
