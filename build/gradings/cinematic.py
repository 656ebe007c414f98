"""Cinematic grades: the colour of films and series, from blockbuster teal-orange to noir night."""

from __future__ import annotations

import numpy as np

from .blocks import (
    Image,
    channel_gamma,
    channel_mix,
    contrast,
    duotone,
    exposure_to,
    foliage,
    grey_world,
    hue_rotate,
    levels,
    lift_roll,
    luma,
    recolour,
    s_curve,
    saturation,
    saturation_to,
    split_tone,
    tint_mids,
)


def teal_orange(x: Image) -> Image:
    """grey world 0.3, levels 0.5-99.5 % by 0.5, exposure to 0.5; teal shadows, orange highlights, S curve 0.4"""
    x = exposure_to(levels(grey_world(x, 0.3), 0.5, 99.5, 0.5), 0.5, 0.7)
    x = split_tone(x, (-0.1, 0.03, 0.16), (0.16, 0.04, -0.12))
    return saturation(s_curve(x, 0.4), 1.1)


def bleach_bypass(x: Image) -> Image:
    """levels 0.5-99.5 % by 0.5, exposure to 0.36; S curve 0.6, saturation 0.45, steel shadows, silver highlights"""
    x = exposure_to(levels(x, 0.5, 99.5, 0.5), 0.36, 0.8)
    y = luma(x)[..., None]
    x = split_tone(saturation(s_curve(x, 0.6), 0.45), (-0.04, 0.0, 0.03), (0.0, 0.0, 0.0))
    return x + 0.06 * y**2  # silvery highlights


def night_blue(x: Image) -> Image:
    """exposure to 0.25; day-for-night: saturation 0.4, everything pushed blue, crushed blacks"""
    x = exposure_to(x, 0.25, 0.8)
    x = channel_gamma(saturation(x, 0.4), (1.3, 1.1, 0.8))
    return lift_roll(contrast(x, 1.15, 0.3), (0.0, 0.01, 0.04), (0.8, 0.88, 1.0))


def desert_heat(x: Image) -> Image:
    """levels 1-99 % by 0.7, exposure to 0.58; orange channel mix, orange mids, bleached highlights"""
    x = exposure_to(levels(x, 1.0, 99.0, 0.7), 0.58, 0.5)
    x = channel_mix(x, ((0.9, 0.2, 0.0), (0.1, 0.8, 0.1), (0.1, 0.2, 0.5)))
    x = tint_mids(x, (0.1, 0.0, -0.08))
    return split_tone(s_curve(x, 0.3), (0.04, 0.0, -0.04), (0.05, 0.04, 0.02))


def digital_green(x: Image) -> Image:
    """grey world 0.8, levels 1-99 % by 0.5; sickly green cast in every tone, saturation 0.7, hard contrast"""
    x = levels(grey_world(x, 0.8), 1.0, 99.0, 0.5)
    x = channel_gamma(saturation(x, 0.7), (1.25, 0.8, 1.2))
    return s_curve(x, 0.5)


def steel_blockbuster(x: Image) -> Image:
    """levels 1-99 % by 0.8; cold steel: saturation 0.4, blue-grey mids and blacks, skin kept a little warm"""
    x = levels(x, 1.0, 99.0, 0.8)
    skin = np.clip(2.5 * (x[..., 0:1] - x[..., 2:3]), 0.0, 1.0)
    x = saturation(x, 0.4) + skin * np.asarray((0.03, 0.0, -0.02), np.float32)
    x = tint_mids(s_curve(x, 0.5), (-0.06, 0.0, 0.1))
    return lift_roll(x, (0.02, 0.04, 0.08), 1.0)


def neon_night(x: Image) -> Image:
    """exposure to 0.35, saturation to 0.2; magenta shadows, cyan highlights, hues turned 15 degrees"""
    x = saturation_to(exposure_to(x, 0.35, 0.7), 0.2, 0.7)
    x = hue_rotate(x, 15.0)
    return split_tone(s_curve(x, 0.3), (0.12, -0.04, 0.14), (-0.06, 0.05, 0.08))


def western_dust(x: Image) -> Image:
    """grey world 0.5 toward a dusty warm white, levels 1-99 % by 0.6; greens to ochre, sepia-leaning mids"""
    x = levels(grey_world(x, 0.5, (1.06, 1.0, 0.88)), 1.0, 99.0, 0.6)
    x = recolour(x, foliage(x), (0.75, 0.6, 0.3), 0.8)
    x = saturation(tint_mids(x, (0.05, 0.02, -0.05)), 0.6)
    return lift_roll(s_curve(x, 0.35), (0.06, 0.04, 0.02), 0.95)


def noir_duotone(x: Image) -> Image:
    """levels 0.5-99.5 % by 0.8, exposure to 0.35; a deep blue-to-amber duotone, hard contrast"""
    x = exposure_to(levels(x, 0.5, 99.5, 0.8), 0.35, 0.6)
    return duotone(s_curve(x, 0.6), (0.02, 0.04, 0.12), (1.0, 0.9, 0.7))
