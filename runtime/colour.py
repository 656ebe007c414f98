"""Colour management: every network sees sRGB; a photo's own ICC profile is honoured both ways.

A Display P3 or Adobe RGB photo whose numbers are read as sRGB looks washed out, and a network
trained on sRGB photos restores it as if it were one. Decode converts any embedded profile to
sRGB (LittleCMS, perceptual intent); encode can convert back to the source profile and embed it
when the client asks (OPTIONS ``color_profile: "source"``), so a P3 photo comes back as P3.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageCms

_SRGB = ImageCms.createProfile("sRGB")
INTENT = ImageCms.Intent.PERCEPTUAL


@dataclass(frozen=True)
class SourceProfile:
    """The profile a photo arrived in: its bytes, its description and its colour space."""

    icc: bytes
    description: str
    colour_space: str  # "RGB", "GRAY", "CMYK", ... as the profile's header says

    @property
    def returnable(self) -> bool:
        """Whether an sRGB result can go back to this profile (an RGB one: P3, Adobe RGB...)."""
        return self.colour_space == "RGB"


def read_profile(icc: bytes) -> SourceProfile | None:
    """The embedded profile, or None when it is unreadable (the pixels are then taken as sRGB)."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (OSError, ImageCms.PyCMSError, TypeError, ValueError):
        return None
    description = (ImageCms.getProfileDescription(profile) or "").strip()
    colour_space = profile.profile.xcolor_space.strip()
    return SourceProfile(icc=icc, description=description, colour_space=colour_space)


def is_srgb(profile: SourceProfile) -> bool:
    """Profiles that are sRGB already (by description): no transform, so no rounding loss."""
    return profile.description.lower().replace(" ", "").startswith(("srgb", "iec61966-2"))


def to_srgb(image: Image.Image, profile: SourceProfile) -> Image.Image:
    """``image`` (mode RGB, RGBA, L, LA or CMYK as decoded) converted to sRGB RGB (RGBA with alpha)."""
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile.icc))
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
    colour = image.convert("L" if image.mode == "LA" else "RGB") if image.mode in ("RGBA", "LA") else image
    converted = ImageCms.profileToProfile(colour, source, _SRGB, renderingIntent=INTENT, outputMode="RGB")
    assert converted is not None  # inPlace=False always returns the new image
    if alpha is not None:
        converted.putalpha(alpha)
    return converted


def from_srgb(image: Image.Image, profile: SourceProfile) -> Image.Image:
    """An sRGB ``image`` (RGB or RGBA) converted to an RGB ``profile``'s numbers."""
    target = ImageCms.ImageCmsProfile(io.BytesIO(profile.icc))
    alpha = image.getchannel("A") if image.mode == "RGBA" else None
    converted = ImageCms.profileToProfile(image.convert("RGB"), _SRGB, target, renderingIntent=INTENT, outputMode="RGB")
    assert converted is not None
    if alpha is not None:
        converted.putalpha(alpha)
    return converted
