"""Black and white: neutral monochromes with different filters and tones, and toned prints."""

from __future__ import annotations

import numpy as np

from .blocks import LUMA, Image, contrast, duotone, exposure_to, levels, lift_roll, mono, s_curve


def mono_classic(x: Image) -> Image:
    """levels 0.5-99.5 % by 0.7, exposure to 0.42; red-filter mix (0.55, 0.35, 0.10): darker skies, lighter skin;
    S curve 0.55"""
    x = exposure_to(levels(x, 0.5, 99.5, 0.7), 0.42, 0.7)
    return s_curve(mono(x, (0.55, 0.35, 0.10)), 0.55)


def sepia_print(x: Image) -> Image:
    """exposure to 0.45; luma mono, S curve 0.25, brown toning by channel gammas, warm paper white"""
    x = exposure_to(x, 0.45, 0.6)
    y = s_curve(mono(x, LUMA), 0.25)
    toned = np.clip(y, 0.0, 1.0) ** np.array([0.88, 1.0, 1.3], np.float32)  # brown: red up, blue down
    return lift_roll(toned, (0.05, 0.035, 0.02), (0.98, 0.95, 0.88))


def high_key_mono(x: Image) -> Image:
    """exposure to 0.72 fully; green-filter mix, contrast 0.7, whites held, a bright airy monochrome"""
    x = exposure_to(x, 0.72, 1.0)
    return lift_roll(contrast(mono(x, (0.2, 0.7, 0.1)), 0.7, 0.8), 0.15, 1.0)


def noir_hard(x: Image) -> Image:
    """levels 2-98 % fully, exposure to 0.32; blue-filter mix (bright skies), hard S curve twice"""
    x = exposure_to(levels(x, 2.0, 98.0, 1.0), 0.32, 0.7)
    return s_curve(s_curve(mono(x, (0.2, 0.3, 0.5)), 0.8), 0.8)


def selenium_tone(x: Image) -> Image:
    """levels 0.5-99.5 % by 0.6; luma mono, purple-brown shadows, neutral highlights, S curve 0.3"""
    x = s_curve(mono(levels(x, 0.5, 99.5, 0.6), LUMA), 0.3)
    y = np.clip(x[..., 0:1], 0.0, 1.0)
    return x + (1.0 - y) ** 2 * y * np.asarray((0.22, -0.08, 0.18), np.float32)


def cyanotype(x: Image) -> Image:
    """exposure to 0.45 fully; Prussian-blue to warm paper-white duotone of the luma"""
    x = exposure_to(x, 0.45, 1.0)
    return duotone(s_curve(x, 0.2), (0.02, 0.13, 0.38), (0.97, 0.96, 0.93))


def platinum_warm(x: Image) -> Image:
    """levels 0.2-99.8 % by 0.5, exposure to 0.58; long soft tonal scale, warm grey duotone, no pure black"""
    x = exposure_to(levels(x, 0.2, 99.8, 0.5), 0.58, 0.7)
    return duotone(s_curve(x, -0.2), (0.14, 0.12, 0.1), (0.97, 0.93, 0.85))


def infrared_mono(x: Image) -> Image:
    """levels 1-99 % by 0.8; infrared-like mix (foliage glows white, skies go black), glowing highlights, S curve 1"""
    x = levels(x, 1.0, 99.0, 0.8)
    y = mono(x, (0.3, 1.5, -0.8))
    return s_curve(np.clip(y, 0.0, 1.0) ** 0.55, 1.0)
