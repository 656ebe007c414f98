"""Portrait looks: kind to skin, from airy pastel to moody low-key."""

from __future__ import annotations

from .blocks import (
    Image,
    channel_gamma,
    contrast,
    exposure_to,
    grey_world,
    levels,
    lift_roll,
    luma,
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


def pastel(x: Image) -> Image:
    """exposure to 0.62; contrast 0.7 about 0.6, blacks to 0.1, faint cool-pink tones, saturation 0.7"""
    x = exposure_to(x, 0.62, 0.7)
    x = lift_roll(contrast(x, 0.7, 0.6), 0.1, 1.0)
    return saturation(split_tone(x, (0.0, 0.0, 0.02), (0.02, 0.0, 0.02)), 0.7)


def skin_glow(x: Image) -> Image:
    """grey world 0.6, exposure to 0.6; warm tones lifted, glowing highlights, pink-peach highlights, vibrance 0.4"""
    x = exposure_to(grey_world(x, 0.6), 0.6, 0.7)
    x = x + warmth(x) * 0.25 * (x**0.7 - x)
    y = luma(x)[..., None]
    x = split_tone(x + 0.2 * y**2, (0.0, 0.0, 0.0), (0.1, 0.03, 0.06))
    return vibrance(x, 0.4)


def porcelain(x: Image) -> Image:
    """grey world 0.8 toward a cool white, exposure to 0.7; saturation 0.4, S curve 0.3, pearl highlights"""
    x = exposure_to(grey_world(x, 0.8, (0.97, 1.0, 1.05)), 0.7, 0.8)
    x = s_curve(saturation(x, 0.4), 0.3)
    return split_tone(lift_roll(x, 0.05, 1.0), (0.0, 0.0, 0.03), (0.04, 0.0, 0.05))


def bronze_tan(x: Image) -> Image:
    """levels 1-99 % by 0.5, exposure to 0.42; warm tones turned bronze, deeper mids, golden highlights"""
    x = exposure_to(levels(x, 1.0, 99.0, 0.5), 0.42, 0.6)
    x = recolour(x, warmth(x), (1.0, 0.68, 0.38), 0.6)
    x = channel_gamma(x, (0.95, 1.05, 1.2))
    return split_tone(s_curve(x, 0.3), (0.0, 0.0, 0.0), (0.05, 0.03, -0.04))


def rosy_blush(x: Image) -> Image:
    """grey world 0.5, exposure to 0.52; rose-pink mid-tones, rosy skin, contrast 0.95"""
    x = exposure_to(grey_world(x, 0.5), 0.52, 0.6)
    x = tint_mids(x, (0.07, -0.03, 0.02))
    x = recolour(x, warmth(x), (1.0, 0.6, 0.62), 0.4)
    return contrast(x, 0.95, 0.55)


def studio_clean(x: Image) -> Image:
    """grey world 1.0, levels 0.2-99.8 % by 1.0, exposure to 0.58 fully; S curve 0.1, vibrance 0.3, warm mids"""
    x = exposure_to(levels(grey_world(x, 1.0), 0.2, 99.8, 1.0), 0.58, 1.0)
    return tint_mids(vibrance(s_curve(x, 0.1), 0.3), (0.04, 0.0, -0.03))


def editorial_matte(x: Image) -> Image:
    """levels 0.5-99.5 % by 0.6, saturation to 0.06; greenish matte blacks at 0.1, whites at 0.9, cool skies"""
    x = saturation_to(levels(x, 0.5, 99.5, 0.6), 0.06, 0.9)
    x = recolour(x, sky(x), (0.5, 0.7, 0.8), 0.5)
    return lift_roll(s_curve(x, 0.4), (0.08, 0.11, 0.1), (0.92, 0.9, 0.88))


def moody_low_key(x: Image) -> Image:
    """exposure to 0.3; saturation 0.5, deep shadows, skin kept warm, olive-green mid-tones"""
    x = exposure_to(x, 0.3, 0.9)
    x = saturation(x, 0.5) + warmth(x) * 0.15 * (x - saturation(x, 0.5))
    x = tint_mids(x, (-0.03, 0.06, -0.03))
    return s_curve(x, 0.45)
