"""Colour differences in torch, as the looks are judged: CIELAB (D65) and CIEDE2000.

The looks network uses them inside its graph (``lumaflow.build.arch.lut``: it keeps its looks apart on each photo
by the measure issue 30 judges them with) and its training loss uses the Lab conversion. The CIEDE2000 formula is
Sharma, Wu and Dalal's ("The CIEDE2000 color-difference formula: implementation notes", 2005), the one
scikit-image's ``deltaE_ciede2000`` implements; ``tests/test_looks.py`` holds the two together.
"""

from __future__ import annotations

import math

import torch

SRGB_TO_XYZ = ((0.412453, 0.357580, 0.180423), (0.212671, 0.715160, 0.072169), (0.019334, 0.119193, 0.950227))
D65_WHITE = (0.95047, 1.0, 1.08883)
_POW25_7 = 25.0**7


def srgb_to_lab(x: torch.Tensor) -> torch.Tensor:
    """NCHW sRGB in [0, 1] -> CIELAB (D65), differentiable (the linear segment keeps the cube root's slope finite)."""
    x = x.clamp(0.0, 1.0)
    linear = torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    matrix = x.new_tensor(SRGB_TO_XYZ) / x.new_tensor(D65_WHITE).reshape(3, 1)
    t = torch.einsum("ij,njhw->nihw", matrix, linear)
    f = torch.where(t > 0.008856, t.clamp(min=0.008856) ** (1.0 / 3.0), 7.787 * t + 16.0 / 116.0)
    fx, fy, fz = f[:, 0], f[:, 1], f[:, 2]
    return torch.stack((116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=1)


def _hue(b: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """The hue angle in degrees, 0-360 (0 where the colour is grey, as in the reference implementation)."""
    return torch.remainder(torch.rad2deg(torch.atan2(b, a)), 360.0)


def ciede2000(lab1: torch.Tensor, lab2: torch.Tensor) -> torch.Tensor:
    """CIEDE2000 between two Lab tensors with the channels on dim 1 (kL = kC = kH = 1); the result drops dim 1."""
    l1, a1, b1 = lab1.unbind(1)
    l2, a2, b2 = lab2.unbind(1)
    c_bar = 0.5 * (torch.sqrt(a1 * a1 + b1 * b1) + torch.sqrt(a2 * a2 + b2 * b2))
    c7 = c_bar**7
    g = 0.5 * (1.0 - torch.sqrt(c7 / (c7 + _POW25_7)))
    a1p, a2p = a1 * (1.0 + g), a2 * (1.0 + g)
    c1p, c2p = torch.sqrt(a1p * a1p + b1 * b1), torch.sqrt(a2p * a2p + b2 * b2)
    h1p, h2p = _hue(b1, a1p), _hue(b2, a2p)
    chroma_product = c1p * c2p
    grey = chroma_product == 0

    dh = h2p - h1p
    dh = torch.where(dh > 180.0, dh - 360.0, torch.where(dh < -180.0, dh + 360.0, dh))
    dh = torch.where(grey, torch.zeros_like(dh), dh)
    d_l, d_c = l2 - l1, c2p - c1p
    d_h = 2.0 * torch.sqrt(chroma_product) * torch.sin(torch.deg2rad(dh) / 2.0)

    l_bar, cp_bar = 0.5 * (l1 + l2), 0.5 * (c1p + c2p)
    h_sum = h1p + h2p
    far = (h1p - h2p).abs() > 180.0
    h_bar = torch.where(far, torch.where(h_sum < 360.0, h_sum + 360.0, h_sum - 360.0), h_sum) / 2.0
    h_bar = torch.where(grey, h_sum, h_bar)
    rad = torch.deg2rad(h_bar)
    t = (
        1.0
        - 0.17 * torch.cos(rad - math.radians(30.0))
        + 0.24 * torch.cos(2.0 * rad)
        + 0.32 * torch.cos(3.0 * rad + math.radians(6.0))
        - 0.20 * torch.cos(4.0 * rad - math.radians(63.0))
    )
    d_theta = 30.0 * torch.exp(-(((h_bar - 275.0) / 25.0) ** 2))
    cp7 = cp_bar**7
    r_c = 2.0 * torch.sqrt(cp7 / (cp7 + _POW25_7))
    l50 = (l_bar - 50.0) ** 2
    s_l = 1.0 + 0.015 * l50 / torch.sqrt(20.0 + l50)
    s_c = 1.0 + 0.045 * cp_bar
    s_h = 1.0 + 0.015 * cp_bar * t
    r_t = -torch.sin(2.0 * torch.deg2rad(d_theta)) * r_c
    lt, ct, ht = d_l / s_l, d_c / s_c, d_h / s_h
    return torch.sqrt((lt * lt + ct * ct + ht * ht + r_t * ct * ht).clamp(min=0.0))
