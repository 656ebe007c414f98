"""Colourful, bright and dark versions of a photo: what the looks are trained and checked to stay apart on.

The photos met in service are not the few held here. The looks should stay apart on a photo as colourful as the
most colourful validation photo (Blinds, mean chroma 0.26), and on one much brighter or darker: the looks
network's training pairs the looks that come closest on these versions (``build.looks.nearest_looks``), and
``python -m lumaflow.build.looks distinct --variants`` checks them. A vivid version, never trained on, is a check
of the served push apart where the gamut's edge clips it (``distinct --vivid``). A close-up, also a check only, is
the photo's most colourful quarter: what a frame filled by one flower or fruit looks like, which no validation
photo is (``distinct --closeup``, with its vivid version: "closeup vivid", variants applied left to right).
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
CLOSEUP = "closeup"
CLOSEUP_VARIANTS = (CLOSEUP, f"{CLOSEUP} vivid")
CLOSEUP_STEPS = 8  # the close-up window is searched at steps of this fraction of each side


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
    never less), brighter or darker by a gamma, or cut to its close-up; names joined by spaces apply in order."""
    if " " in variant:
        for part in variant.split():
            image = photo_variant(image, part)
        return image
    if variant == CLOSEUP:
        return closeup(image)
    x = image.astype(np.float32) / 255.0
    if variant in CHROMA_TARGETS:
        target, most = CHROMA_TARGETS[variant]
        x = saturation(x, min(most, max(1.0, target / (float(chroma(x).mean()) + 1e-3))))
    elif variant in VARIANT_GAMMA:
        x = x ** np.float32(VARIANT_GAMMA[variant])
    else:
        known = ", ".join((*CHROMA_TARGETS, *VARIANT_GAMMA, CLOSEUP))
        raise ValueError(f"no photo variant {variant!r}: one of {known}")
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def closeup(image: np.ndarray) -> np.ndarray:
    """The window of half ``image``'s width and half its height with the highest mean chroma, searched at steps of
    1 / CLOSEUP_STEPS of each side: the photo's most colourful quarter, as a frame-filling close-up would be."""
    h, w = image.shape[:2]
    ch, cw = h // 2, w // 2
    colour = chroma(image.astype(np.float32) / 255.0)
    total = np.pad(colour.cumsum(0).cumsum(1), ((1, 0), (1, 0)))  # summed-area table
    best, at = -1.0, (0, 0)
    # The window's corner ranges over half each side: CLOSEUP_STEPS / 2 steps of 1 / CLOSEUP_STEPS each.
    for top in np.linspace(0, h - ch, CLOSEUP_STEPS // 2 + 1).round().astype(int):
        for left in np.linspace(0, w - cw, CLOSEUP_STEPS // 2 + 1).round().astype(int):
            b, r = top + ch, left + cw
            mean = float(total[b, r] - total[top, r] - total[b, left] + total[top, left])
            if mean > best:
                best, at = mean, (int(top), int(left))
    top, left = at
    return np.ascontiguousarray(image[top : top + ch, left : left + cw])
