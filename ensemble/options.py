"""OPTIONS: the optional JSON input of every photo pipeline, declared once.

Each pipeline's options (the output options every pipeline has, plus its own) render to a JSON
Schema file beside the pipeline in the model repository, ``<pipeline>/options.schema.json``:
clients read it to see keys, types, units and defaults; decode validates requests against it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lumaflow.contract import PRESET_KEY, PROGRESS_ID_PATTERN, SCHEMA_FILE

__all__ = ["PRESET_KEY", "SCHEMA_FILE", "Option", "defaults", "options_schema"]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True)
class Option:
    """One key of OPTIONS. ``kind`` is a JSON Schema type; ``unit`` is said in the description."""

    name: str
    kind: str
    description: str
    default: Any
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""
    required: bool = False  # the request must give it (no default says what the photo wants)
    pattern: str = ""  # a string's regular expression (JSON Schema ``pattern``)

    def schema(self) -> dict[str, Any]:
        description = f"{self.description} ({self.unit})" if self.unit else self.description
        schema: dict[str, Any] = {"type": self.kind, "description": description}
        if self.default is not None:
            schema["default"] = self.default
        if self.choices:
            schema["enum"] = list(self.choices)
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.pattern:
            schema["pattern"] = self.pattern
        return schema


OUTPUT_OPTIONS: tuple[Option, ...] = (
    Option("format", "string", "Encoding of ENHANCED", "png", choices=("png", "jpeg", "webp")),
    Option(
        "quality",
        "integer",
        "JPEG or WebP quality; PNG is lossless and ignores it",
        92,
        minimum=1,
        maximum=100,
    ),
    Option(
        "color_profile",
        "string",
        "Colour profile of ENHANCED: sRGB, or the input's own embedded profile (e.g. Display P3), converted"
        " back and embedded",
        "srgb",
        choices=("srgb", "source"),
    ),
    Option("keep_gps", "boolean", "Keep the input's GPS position in the output's EXIF (removed by default)", False),
    Option(
        "quality_check",
        "boolean",
        "Score the result and the input with the quality network and say in INFO whether the result got worse"
        " (about 30 ms on 2 CPU cores)",
        True,
    ),
    Option(
        "progress",
        "string",
        "An id of the caller's choosing: the tiled stages then publish their tiles done of total under it, read"
        " from the progress model (lumaflow.client: progress(id))",
        None,
        pattern=PROGRESS_ID_PATTERN,
    ),
)

# User guidance (issue 27): where the result applies and how much of it. Every photo pipeline but inpaint takes
# REGION with these two; STRENGTH is the blend with the input (or its bicubic upscale) on the pipelines that
# name it (stylize has a strength of its own, the looks network's input).
REGION_OPTIONS: tuple[Option, ...] = (
    Option(
        "region_mode",
        "string",
        "With REGION: only enhances where REGION is white (above 127), except enhances everywhere else",
        "only",
        choices=("only", "except"),
    ),
    Option(
        "region_feather",
        "number",
        "With REGION: the width of the blend between result and input across the region's edge, half on each side",
        8,
        minimum=0,
        maximum=256,
        unit="input pixels",
    ),
)
STRENGTH = Option(
    "strength",
    "number",
    "How much of the result: 0 returns the input (or its bicubic upscale) exactly, 1 the full result, between a"
    " linear blend",
    1.0,
    minimum=0,
    maximum=1,
)


def options_schema(
    pipeline: str, options: tuple[Option, ...], presets: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """The JSON Schema of one pipeline's OPTIONS: an object of known keys only (plus ``preset`` when it has some)."""
    properties = {option.name: option.schema() for option in options}
    if presets:
        bundles = "; ".join(f"{name}: {json.dumps(dict(values), sort_keys=True)}" for name, values in presets.items())
        properties[PRESET_KEY] = {
            "type": "string",
            "enum": list(presets),
            "description": f"A named bundle of options, under the request's own keys ({bundles})",
        }
    schema: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": f"OPTIONS of the {pipeline} pipeline",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    required = [option.name for option in options if option.required]
    if required:
        schema["required"] = required
    return schema


def defaults(options: tuple[Option, ...]) -> dict[str, Any]:
    return {option.name: option.default for option in options}
