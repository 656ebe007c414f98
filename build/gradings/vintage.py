"""Vintage: faded prints and the colour of past decades."""

from __future__ import annotations

import numpy as np

from .blocks import (
    Image,
    channel_gamma,
    channel_mix,
    contrast,
    exposure_to,
    gains,
    grey_world,
    hue_rotate,
    levels,
    lift_roll,
    luma,
    s_curve,
    saturation,
    saturation_to,
    sky,
    split_tone,
    tint_mids,
)


def faded_matte(x: Image) -> Image:
    """exposure to 0.5; contrast 0.75, blacks lifted to 0.14, whites to 0.9, saturation 0.85"""
    x = exposure_to(x, 0.5, 0.5)
    x = lift_roll(contrast(x, 0.75), 0.14, 0.9)
    return saturation(x, 0.85)


def vintage_70s(x: Image) -> Image:
    """grey world 0.5; warm-green gains, muted blues, soft lifted blacks, saturation 0.85"""
    x = gains(grey_world(x, 0.5), (1.04, 1.03, 0.88))
    blue_excess = np.maximum(0.0, x[..., 2:3] - 0.5 * (x[..., 0:1] + x[..., 1:2]))
    x = x - blue_excess * np.array([0.0, 0.0, 0.3], np.float32)  # muted blues
    x = lift_roll(contrast(x, 0.8), (0.06, 0.1, 0.04), (0.96, 0.95, 0.88))
    return saturation(x, 0.85)


def polaroid_80s(x: Image) -> Image:
    """exposure to 0.55, saturation to 0.12; hues -12 degrees, cyan shadows and lifted blacks, cream highlights"""
    x = saturation_to(exposure_to(x, 0.55, 0.7), 0.12, 0.7)
    x = hue_rotate(x, -12.0)
    x = split_tone(x, (-0.08, 0.06, 0.1), (0.08, 0.06, -0.04))
    return lift_roll(s_curve(x, 0.35), (0.1, 0.12, 0.14), (0.98, 0.96, 0.86))


def kodachrome_60s(x: Image) -> Image:
    """grey world 0.5, levels 0.5-99.5 % by 0.7, exposure to 0.5; deep reds/blues, magenta shadows, chroma to 0.15"""
    x = exposure_to(levels(grey_world(x, 0.5), 0.5, 99.5, 0.7), 0.5, 0.6)
    x = channel_mix(x, ((1.18, -0.09, -0.09), (-0.04, 1.04, 0.0), (-0.02, -0.08, 1.1)))
    x = channel_gamma(s_curve(x, 0.6), (0.92, 1.08, 1.1))
    # a slide film's fixed colour density: a dull photo is enriched, a vivid one held back (vivid saturates it further)
    return saturation_to(split_tone(x, (0.06, -0.02, 0.05), (0.09, 0.04, -0.05)), 0.15, 1.0)


def hand_tinted(x: Image) -> Image:
    """exposure to 0.5; a faint old monochrome re-coloured: saturation 0.3, warm paper, rose-magenta mids"""
    x = exposure_to(x, 0.5, 0.7)
    x = saturation(x, 0.3)
    x = tint_mids(x, (0.07, -0.03, 0.04))
    return lift_roll(x, (0.08, 0.07, 0.05), (0.97, 0.93, 0.84))


def lomo_pop(x: Image) -> Image:
    """levels 1-99 % by 0.8, exposure to 0.42; hues turned 20 degrees, hard curves, blue shadows, saturation 1.4"""
    x = hue_rotate(exposure_to(levels(x, 1.0, 99.0, 0.8), 0.42, 0.6), 20.0)
    x = channel_gamma(s_curve(x, 0.7), (0.9, 0.95, 1.3))
    x = split_tone(x, (-0.02, 0.02, 0.2), (0.08, 0.07, -0.1))
    return saturation(x, 1.4)


def faded_postcard(x: Image) -> Image:
    """grey world 0.6, exposure to 0.64; sun-faded, contrast 0.55: reds survive, blues and greens bleached to cream"""
    x = exposure_to(grey_world(x, 0.6), 0.64, 0.7)
    y = luma(x)[..., None]
    x = y + (x - y) * np.asarray((0.9, 0.45, 0.3), np.float32)
    return lift_roll(contrast(x, 0.55, 0.6), (0.16, 0.12, 0.05), (0.98, 0.94, 0.8))


def retro_teal_fade(x: Image) -> Image:
    """levels 2-98 % by 0.6, exposure to 0.45; faded teal print: teal mids, greener skies, sunk red shadows"""
    x = exposure_to(levels(x, 2.0, 98.0, 0.6), 0.45, 0.6)
    x = x + sky(x) * np.asarray((-0.05, 0.06, -0.04), np.float32)
    x = tint_mids(channel_gamma(x, (1.25, 0.95, 0.95)), (-0.06, 0.03, 0.04))
    return lift_roll(contrast(x, 0.8), (0.05, 0.1, 0.1), (0.92, 0.96, 0.94))
