"""Landscape and travel looks: skies, foliage, light of day."""

from __future__ import annotations

from .blocks import (
    Image,
    channel_gamma,
    contrast,
    exposure_to,
    foliage,
    gains,
    grey_world,
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
)


def vivid(x: Image) -> Image:
    """levels 1-99 % fully, exposure to 0.54; S curve 0.45, saturation 1.45, a touch warm (gains 1.03, 1, 0.95)"""
    x = exposure_to(levels(x, 1.0, 99.0, 1.0), 0.54, 0.8)
    return saturation(gains(s_curve(x, 0.45), (1.03, 1.0, 0.95)), 1.45)


def cool_morning(x: Image) -> Image:
    """grey world 0.6, exposure to 0.55; blue white balance, opened shadows (gamma 0.85), contrast 0.9"""
    x = exposure_to(grey_world(x, 0.6), 0.55, 0.6)
    x = gains(x, (0.93, 1.0, 1.1))
    x = x.clip(0.0, 1.0) ** 0.85  # opened shadows
    return saturation(contrast(x, 0.9, 0.6), 0.95)


def golden_hour(x: Image) -> Image:
    """grey world 0.4; golden gains (1.14, 1.02, 0.78), warm split tone, S curve 0.1, saturation 1.1"""
    x = gains(grey_world(x, 0.4), (1.14, 1.02, 0.78))
    x = split_tone(x, (0.02, 0.0, -0.02), (0.06, 0.03, -0.05))
    return saturation(s_curve(x, 0.1), 1.1)


def lush_green(x: Image) -> Image:
    """grey world 0.5, levels 1-99 % by 0.6, exposure to 0.56; foliage made deep emerald, green mids, vibrance 0.4"""
    x = exposure_to(levels(grey_world(x, 0.5), 1.0, 99.0, 0.6), 0.56, 0.6)
    x = recolour(x, foliage(x), (0.1, 0.65, 0.35), 0.8)
    x = tint_mids(x, (-0.03, 0.04, 0.0))
    return vibrance(s_curve(x, 0.25), 0.4)


def deep_sky(x: Image) -> Image:
    """levels 0.5-99.5 % by 0.8, exposure to 0.34; skies darkened to deep blue, navy shadows, polariser contrast"""
    x = exposure_to(levels(x, 0.5, 99.5, 0.8), 0.34, 0.6)
    s = sky(x)
    x = x * (1.0 - 0.3 * s) + s * 0.3 * x * x
    x = recolour(x, s, (0.1, 0.35, 0.95), 0.6)
    return split_tone(s_curve(x, 0.35), (-0.03, 0.0, 0.08), (0.0, 0.0, 0.0))


def alpine_clear(x: Image) -> Image:
    """grey world 0.9, levels 0.2-99.8 % fully, exposure to 0.66; bright cold air, blue shadows, saturation to 0.1"""
    x = exposure_to(levels(grey_world(x, 0.9), 0.2, 99.8, 1.0), 0.66, 0.7)
    x = saturation_to(x, 0.1, 0.7)
    return split_tone(x, (-0.06, 0.0, 0.16), (0.0, 0.01, 0.02))


def misty_haze(x: Image) -> Image:
    """exposure to 0.6; atmospheric haze: contrast 0.6 toward a pale blue-grey, saturation 0.6"""
    x = exposure_to(x, 0.6, 0.8)
    x = lift_roll(contrast(saturation(x, 0.6), 0.6, 0.7), (0.22, 0.25, 0.3), (0.95, 0.97, 1.0))
    return x


def sunset_glow(x: Image) -> Image:
    """levels 1-99 % by 0.5, saturation to 0.15; strong magenta shadows, orange highlights, skies turned pink"""
    x = saturation_to(levels(x, 1.0, 99.0, 0.5), 0.15, 0.6)
    x = recolour(x, sky(x), (0.85, 0.5, 0.75), 0.6)
    x = split_tone(x, (0.14, -0.05, 0.12), (0.12, 0.03, -0.06))
    return channel_gamma(s_curve(x, 0.2), (0.9, 1.0, 1.05))
