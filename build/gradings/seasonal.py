"""Seasonal looks: the colour of spring, summer, autumn and winter, and of the days in between."""

from __future__ import annotations

import numpy as np

from .blocks import (
    Image,
    channel_gamma,
    contrast,
    exposure_to,
    foliage,
    gains,
    grey_world,
    hue_rotate,
    levels,
    lift_roll,
    recolour,
    s_curve,
    saturation,
    saturation_to,
    sky,
    split_tone,
    tint_mids,
    vibrance,
    warmth,
)


def spring_bloom(x: Image) -> Image:
    """exposure to 0.62, saturation to 0.12; fresh yellow-green foliage, pink mid-tones, soft light"""
    x = saturation_to(exposure_to(x, 0.62, 0.7), 0.12, 0.6)
    x = recolour(x, foliage(x), (0.55, 0.85, 0.25), 0.6)
    return contrast(tint_mids(x, (0.06, -0.02, 0.04)), 0.85, 0.6)


def summer_bright(x: Image) -> Image:
    """grey world 0.5, exposure to 0.63; saturated warm sunshine, turquoise skies, vibrance 0.7"""
    x = exposure_to(grey_world(x, 0.5), 0.63, 0.6)
    x = recolour(x, sky(x), (0.1, 0.7, 0.85), 0.5)
    x = gains(x, (1.06, 1.03, 0.92))
    return vibrance(s_curve(x, 0.3), 0.7)


def autumn_gold(x: Image) -> Image:
    """grey world 0.5, levels 1-99 % by 0.6; greens turned orange-gold, russet mids, saturation 1.15"""
    x = levels(grey_world(x, 0.5), 1.0, 99.0, 0.6)
    x = recolour(x, foliage(x), (0.95, 0.6, 0.15), 0.9)
    x = tint_mids(x, (0.07, 0.0, -0.05))
    return saturation(s_curve(x, 0.3), 1.15)


def winter_frost(x: Image) -> Image:
    """grey world 0.8 toward an icy white, exposure to 0.5; saturation 0.7, blue shadows, white highlights"""
    x = exposure_to(grey_world(x, 0.8, (0.94, 1.0, 1.1)), 0.5, 0.7)
    x = saturation(x, 0.7)
    return split_tone(lift_roll(x, (0.02, 0.06, 0.15), 1.0), (-0.02, 0.0, 0.06), (0.0, 0.02, 0.03))


def festive_warm(x: Image) -> Image:
    """levels 0.5-99.5 % by 0.6, exposure to 0.34; red-magenta mids, deep reds, amber highlights, saturation 1.2"""
    x = exposure_to(levels(x, 0.5, 99.5, 0.6), 0.34, 0.6)
    x = x + warmth(x) * np.asarray((0.06, -0.03, -0.03), np.float32)
    x = tint_mids(channel_gamma(x, (0.85, 1.0, 1.15)), (0.1, -0.05, 0.04))
    return saturation(split_tone(s_curve(x, 0.3), (0.0, 0.0, 0.0), (0.04, 0.03, -0.03)), 1.2)


def harvest_amber(x: Image) -> Image:
    """grey world 0.6 toward an amber white, exposure to 0.56; hues turned 20 degrees, honeyed mids, saturation 0.9"""
    x = exposure_to(grey_world(x, 0.6, (1.08, 1.0, 0.8)), 0.56, 0.6)
    x = hue_rotate(x, 20.0)
    x = tint_mids(x, (0.06, 0.03, -0.09))
    return saturation(lift_roll(s_curve(x, 0.2), (0.05, 0.03, 0.0), 0.97), 0.9)


def rainy_day(x: Image) -> Image:
    """exposure to 0.42, saturation to 0.05; wet grey-green light, contrast 0.8, slate shadows"""
    x = saturation_to(exposure_to(x, 0.42, 0.7), 0.05, 0.8)
    x = tint_mids(x, (-0.03, 0.01, 0.01))
    return lift_roll(contrast(x, 0.8, 0.4), (0.06, 0.08, 0.09), (0.9, 0.93, 0.93))


def tropical_vivid(x: Image) -> Image:
    """levels 1-99 % by 0.7, saturation to 0.2; hues turned -18 degrees, aqua skies, teal shadows"""
    x = saturation_to(levels(x, 1.0, 99.0, 0.7), 0.2, 0.8)
    x = hue_rotate(x, -18.0)
    x = recolour(x, sky(x), (0.0, 0.75, 0.8), 0.5)
    return split_tone(s_curve(x, 0.25), (-0.06, 0.06, 0.08), (0.02, 0.02, -0.02))
