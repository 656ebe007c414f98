"""The looks of the ``stylize`` pipeline: names, order and what each one does to a photo.

The order is the network's: a look's index here is the ``TEMPLATE`` the looks network reads, so
a look is only ever appended (never reordered or removed) once its weights are trained. The
gradings that define each look for training live in ``lumaflow.build.looks``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# One small JPEG per look (``python -m lumaflow.build.looks sheet`` renders them with the trained network).
THUMBNAILS = Path(__file__).resolve().parent / "thumbnails"


@dataclass(frozen=True)
class Look:
    name: str
    description: str


TEMPLATES: tuple[Look, ...] = (
    Look("warm_film", "warm highlights, gently lifted blacks and a soft film contrast"),
    Look("teal_orange", "cinematic split toning: teal shadows, warm skin tones and highlights"),
    Look("faded_matte", "matte print: lifted blacks, lowered contrast, slightly muted colour"),
    Look("vivid", "punchy: levels stretched to the photo's own range, more contrast and saturation"),
    Look("mono_classic", "black and white with a classic red-filter channel mix and an S curve"),
    Look("sepia_print", "monochrome toned brown, like an old silver print"),
    Look("cool_morning", "cool, airy and bright: a blue white balance and opened shadows"),
    Look("golden_hour", "late-sun warmth: golden highlights and a warm white balance"),
    Look("cross_process", "cross-processed slide film: yellow-green highlights, blue shadows, hard contrast"),
    Look("bleach_bypass", "bleach bypass: desaturated, high contrast, silvery highlights"),
    Look("pastel", "bright and soft: low contrast, light, gently desaturated colours"),
    Look("vintage_70s", "a faded 1970s print: warm-green cast, soft blacks, muted blues"),
)

TEMPLATE_NAMES: tuple[str, ...] = tuple(look.name for look in TEMPLATES)


def listing(looks: tuple[Look, ...], thumbnails: Path = THUMBNAILS) -> list[dict[str, Any]]:
    """What a pipeline's config lists for clients: each look's name, description and thumbnail (a data URL)."""
    entries = []
    for look in looks:
        entry: dict[str, Any] = {"name": look.name, "description": look.description}
        thumbnail = thumbnails / f"{look.name}.jpg"
        if thumbnail.is_file():
            entry["thumbnail"] = "data:image/jpeg;base64," + base64.b64encode(thumbnail.read_bytes()).decode()
        entries.append(entry)
    return entries
