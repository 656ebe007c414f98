"""Colourful, bright and dark versions of a photo: what the looks are trained and checked to stay apart on.

The photos met in service are not the few held here. The looks should stay apart on a photo as colourful as the
most colourful validation photo (Blinds, mean chroma 0.26), and on one much brighter or darker: the looks
network's training pairs the looks that come closest on these versions (``build.looks.nearest_looks``), and
``python -m lumaflow.build.looks distinct --variants`` checks them. A vivid version, never trained on, is a check
of the served push apart where the gamut's edge clips it (``distinct --vivid``).
"""

from __future__ import annotations

import numpy as np

from lumaflow.build.gradings.blocks import chroma, saturation

VARIANTS = ("colourful", "bright", "dark")
COLOURFUL_CHROMA = 0.25
# A check only, never trained on: colour far past any validation photo, so many pixels clip at the gamut's edge
# (where a push apart loses part of its effect).
VIVID_CHROMA, VIVID_MOST = 0.40, 4.0
VARIANT_GAMMA = {"bright": 0.6, "dark": 1.6}


def with_variants(photos: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each photo, then its VARIANTS, named "photo (variant)"."""
    out: dict[str, np.ndarray] = {}
    for name, image in photos.items():
        labels = (name, *(f"{name} ({variant})" for variant in VARIANTS))
        out.update(zip(labels, versions(image), strict=True))
    return out


def with_vivid(photos: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each photo, then its vivid version, named "photo (vivid)"."""
    out: dict[str, np.ndarray] = {}
    for name, image in photos.items():
        out[name], out[f"{name} (vivid)"] = image, vivid(image)
    return out


def vivid(image: np.ndarray) -> np.ndarray:
    """uint8 ``image`` with its mean chroma raised toward VIVID_CHROMA (at most VIVID_MOST times, never less)."""
    x = image.astype(np.float32) / 255.0
    x = saturation(x, min(VIVID_MOST, max(1.0, VIVID_CHROMA / (float(chroma(x).mean()) + 1e-3))))
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def versions(image: np.ndarray) -> list[np.ndarray]:
    """``image`` itself, then its VARIANTS in order."""
    return [image, *(photo_variant(image, variant) for variant in VARIANTS)]


def photo_variant(image: np.ndarray, variant: str) -> np.ndarray:
    """uint8 ``image`` made colourful (mean chroma toward COLOURFUL_CHROMA, at most 3x, never less), or brighter
    or darker by a gamma."""
    x = image.astype(np.float32) / 255.0
    if variant == "colourful":
        x = saturation(x, min(3.0, max(1.0, COLOURFUL_CHROMA / (float(chroma(x).mean()) + 1e-3))))
    elif variant in VARIANT_GAMMA:
        x = x ** np.float32(VARIANT_GAMMA[variant])
    else:
        raise ValueError(f"no photo variant {variant!r}: one of {', '.join(VARIANTS)}")
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)
