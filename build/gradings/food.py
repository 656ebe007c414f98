"""Food looks: appetising colour for plates, markets, cafés and bakeries."""

from __future__ import annotations

from .blocks import (
    Image,
    channel_gamma,
    contrast,
    exposure_to,
    grey_world,
    levels,
    lift_roll,
    recolour,
    s_curve,
    saturation,
    saturation_to,
    split_tone,
    tint_mids,
    warmth,
)


def bistro_warm(x: Image) -> Image:
    """grey world 0.7 toward an amber white, exposure to 0.5; tungsten amber mids, brown shadows, saturation 0.85"""
    x = exposure_to(grey_world(x, 0.7, (1.1, 1.0, 0.8)), 0.5, 0.6)
    x = tint_mids(channel_gamma(x, (0.85, 0.97, 1.3)), (0.09, 0.03, -0.07))
    x = split_tone(s_curve(x, 0.35), (0.08, 0.04, 0.0), (0.05, 0.02, -0.05))
    return saturation(x, 0.85)


def bright_cafe(x: Image) -> Image:
    """levels 0.5-99.5 % by 0.8, exposure to 0.74; crisp airy light: S curve 0.3, cool grey blacks, saturation 0.85"""
    x = exposure_to(levels(x, 0.5, 99.5, 0.8), 0.74, 0.9)
    x = lift_roll(s_curve(x, 0.3), (0.08, 0.09, 0.13), 1.0)
    return saturation(x, 0.85)


def dark_moody_food(x: Image) -> Image:
    """exposure to 0.28, saturation to 0.1; dark backdrop, warm brown mids, food tones kept rich, hard S curve"""
    x = saturation_to(exposure_to(x, 0.28, 0.9), 0.1, 0.6)
    x = x + warmth(x) * 0.25 * (x - x.mean(-1, keepdims=True))
    return s_curve(tint_mids(x, (0.09, 0.03, -0.07)), 0.6)


def bakery_cream(x: Image) -> Image:
    """grey world 0.6 toward a cream white, exposure to 0.64; golden crusts, honey mids, contrast 0.7"""
    x = exposure_to(grey_world(x, 0.6, (1.05, 1.02, 0.9)), 0.64, 0.7)
    x = recolour(x, warmth(x), (1.0, 0.75, 0.4), 0.4)
    x = tint_mids(x, (0.07, 0.04, -0.07))
    return saturation(lift_roll(contrast(x, 0.7, 0.6), (0.06, 0.05, 0.02), 1.0), 0.95)


def golden_fry(x: Image) -> Image:
    """levels 1-99 % by 0.5, exposure to 0.55, saturation to 0.16; golden-yellow mids, glossy highlights"""
    x = saturation_to(exposure_to(levels(x, 1.0, 99.0, 0.5), 0.55, 0.5), 0.16, 0.7)
    x = recolour(x, warmth(x), (1.0, 0.7, 0.2), 0.6)
    x = tint_mids(channel_gamma(x, (0.92, 1.0, 1.2)), (0.04, 0.04, -0.06))
    return lift_roll(s_curve(x, 0.45), (0.03, 0.01, 0.0), (1.0, 1.0, 1.0))
