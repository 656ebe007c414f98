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
# Mean chroma a version's colour is raised toward, and the most it is multiplied by. "vivid" is a check only,
# never trained on (not in VARIANTS): colour far past any validation photo, so many pixels clip at the gamut's
# edge, where a push apart loses part of its effect.
CHROMA_TARGETS = {"colourful": (0.25, 3.0), "vivid": (0.40, 4.0)}
COLOURFUL_CHROMA, VIVID_CHROMA = CHROMA_TARGETS["colourful"][0], CHROMA_TARGETS["vivid"][0]
VARIANT_GAMMA = {"bright": 0.6, "dark": 1.6}


def with_variants(photos: dict[str, np.ndarray], variants: tuple[str, ...] = VARIANTS) -> dict[str, np.ndarray]:
    """Each photo, then its ``variants``, named "photo (variant)"."""
    out: dict[str, np.ndarray] = {}
    for name, image in photos.items():
        out[name] = image
        out.update((f"{name} ({variant})", photo_variant(image, variant)) for variant in variants)
    return out


def versions(image: np.ndarray) -> list[np.ndarray]:
    """``image`` itself, then its VARIANTS in order."""
    return [image, *(photo_variant(image, variant) for variant in VARIANTS)]


def photo_variant(image: np.ndarray, variant: str) -> np.ndarray:
    """uint8 ``image`` made colourful or vivid (mean chroma toward its CHROMA_TARGETS, at most that many times,
    never less), or brighter or darker by a gamma."""
    x = image.astype(np.float32) / 255.0
    if variant in CHROMA_TARGETS:
        target, most = CHROMA_TARGETS[variant]
        x = saturation(x, min(most, max(1.0, target / (float(chroma(x).mean()) + 1e-3))))
    elif variant in VARIANT_GAMMA:
        x = x ** np.float32(VARIANT_GAMMA[variant])
    else:
        known = ", ".join((*CHROMA_TARGETS, *VARIANT_GAMMA))
        raise ValueError(f"no photo variant {variant!r}: one of {known}")
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)
