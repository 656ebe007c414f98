"""The router's decision (photo_enhance, old_photo), without a server: what the analysis and OPTIONS make it run."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lumaflow.ensemble.options import defaults
from lumaflow.ensemble.pipelines import PHOTO_ENHANCE
from lumaflow.runtime.routing import plan_route

pytestmark = pytest.mark.unit

CLEAN = {
    "noise_sigma": 0.5,
    "jpeg_quality": 98.0,
    "blur_sigma": 0.1,
    "exposure_ev": 0.0,
    "p_colour": 0.9,
    "p_grey": 0.05,
    "p_sepia": 0.05,
}


def _roles(analysis: dict[str, float], **options: Any) -> list[str]:
    return [step.role for step in plan_route({**CLEAN, **analysis}, {**defaults(PHOTO_ENHANCE.options), **options})]


@pytest.mark.parametrize(
    ("analysis", "options", "roles"),
    [
        ({}, {}, []),
        ({"jpeg_quality": 25.0}, {}, ["dejpeg"]),
        ({"jpeg_quality": 25.0, "noise_sigma": 20.0}, {}, ["dejpeg"]),  # one restore: blocks first
        ({"noise_sigma": 12.0}, {}, ["denoise"]),
        ({"noise_sigma": 2.0}, {}, []),
        ({"exposure_ev": -2.0}, {}, ["low_light"]),
        ({"exposure_ev": -2.0}, {"low_light": "off"}, []),
        ({}, {"low_light": "on"}, ["low_light"]),
        ({"noise_sigma": 12.0}, {"restore": "none", "scale": 2}, ["sr_x2"]),
        ({}, {"scale": 4, "fast": True, "refine": True}, ["sr_x4_fast", "refine"]),
        ({"jpeg_quality": 40.0, "exposure_ev": -1.5}, {"scale": 2}, ["dejpeg", "low_light", "sr_x2"]),
    ],
)
def test_the_analysis_and_options_choose_the_stages(
    analysis: dict[str, float], options: dict[str, Any], roles: list[str]
) -> None:
    assert _roles(analysis, **options) == roles


def test_the_denoiser_gets_the_analysed_or_the_given_noise_level_and_every_step_says_why() -> None:
    options = defaults(PHOTO_ENHANCE.options)
    (step,) = plan_route({**CLEAN, "noise_sigma": 17.3}, options)
    assert step.noise_level == 17.3 and step.reason == "the analysis reads noise σ 17.3 (>= 4)"
    (step,) = plan_route(CLEAN, {**options, "noise_level": 30})
    assert step.role == "denoise" and step.noise_level == 30.0 and step.reason == "OPTIONS.noise_level was given"


def test_the_de_jpeg_step_is_told_the_files_own_quality_else_the_analysed_one() -> None:
    options = defaults(PHOTO_ENHANCE.options)
    (step,) = plan_route({**CLEAN, "jpeg_quality": 23.4}, options, file_jpeg_quality=15.0)
    assert step.role == "dejpeg" and step.jpeg_quality == 15.0
    (step,) = plan_route({**CLEAN, "jpeg_quality": 23.4}, options)  # a PNG: no tables, the analysis decides
    assert step.jpeg_quality == 23.4 and step.reason == "the analysis reads JPEG quality 23 (<= 70)"


def test_every_preset_is_a_valid_bundle_of_photo_enhance_options() -> None:
    from jsonschema import Draft202012Validator

    from lumaflow.ensemble.options import options_schema

    schema = options_schema(PHOTO_ENHANCE.name, PHOTO_ENHANCE.options, PHOTO_ENHANCE.presets)
    assert schema["properties"]["preset"]["enum"] == ["portrait", "low_light", "print_300dpi", "camera_720p"]
    for preset in PHOTO_ENHANCE.presets.values():
        Draft202012Validator(schema).validate(dict(preset))


def _old_photo_roles(analysis: dict[str, float], **options: Any) -> list[str]:
    from lumaflow.ensemble.pipelines import OLD_PHOTO

    plan = plan_route({**CLEAN, **analysis}, {**defaults(OLD_PHOTO.options), **options})
    return [step.role for step in plan]


@pytest.mark.parametrize(
    ("analysis", "options", "roles"),
    [
        ({}, {}, ["repair", "sr_x2"]),  # old_photo looks for damage on every photo, and doubles by default
        ({}, {"repair": "off", "scale": 1}, []),
        ({"noise_sigma": 12.0}, {"scale": 1}, ["repair", "denoise"]),  # damage is filled before noise is removed
        ({"p_colour": 0.1, "p_grey": 0.8}, {}, ["repair", "colorize", "sr_x2"]),
        ({"p_colour": 0.2, "p_sepia": 0.7, "exposure_ev": -2.0}, {}, ["repair", "colorize", "low_light", "sr_x2"]),
        ({"p_colour": 0.1, "p_grey": 0.8}, {"colorize": "off", "repair": "off"}, ["sr_x2"]),
        ({}, {"colorize": "on", "repair": "off", "scale": 1}, ["colorize"]),
        (
            {"jpeg_quality": 30.0, "p_colour": 0.1, "p_grey": 0.8},
            {"scale": 4},
            ["repair", "dejpeg", "colorize", "sr_x4"],
        ),
    ],
)
def test_old_photo_repairs_damage_first_and_colourises_grey_or_sepia_after_restoring(
    analysis: dict[str, float], options: dict[str, Any], roles: list[str]
) -> None:
    assert _old_photo_roles(analysis, **options) == roles


def test_photo_enhance_neither_repairs_nor_colourises_a_grey_photo() -> None:
    grey = {**CLEAN, "p_colour": 0.1, "p_grey": 0.85, "p_sepia": 0.05}
    assert plan_route(grey, defaults(PHOTO_ENHANCE.options)) == []


def test_a_colourisation_says_what_the_analysis_read() -> None:
    from lumaflow.ensemble.pipelines import OLD_PHOTO

    options = {**defaults(OLD_PHOTO.options), "repair": "off", "scale": 1}
    (step,) = plan_route({**CLEAN, "p_colour": 0.1, "p_grey": 0.2, "p_sepia": 0.7}, options)
    assert step.role == "colorize" and step.reason == "the analysis reads the photo as sepia (p 0.70)"


def test_the_damage_map_becomes_a_grown_hole_and_too_much_of_it_is_left_alone() -> None:
    from lumaflow.runtime.routing import DAMAGE_GROW_PX, damage_hole

    damage = np.zeros((40, 60), dtype=np.uint8)
    assert damage_hole(damage) == (None, {"coverage": 0.0, "threshold": 0.502, "grown_px": 0, "filled": False})
    damage[20, 10:50] = 200  # a scratch the network is sure of
    damage[5, 5] = 100  # and a speck it is not
    hole, figures = damage_hole(damage)
    assert hole is not None and hole.dtype == np.uint8 and figures["filled"]
    assert hole[20 - DAMAGE_GROW_PX : 20 + DAMAGE_GROW_PX + 1, 10:50].all() and not hole[5, 5]
    assert hole.sum() == (40 + 2 * DAMAGE_GROW_PX) * (2 * DAMAGE_GROW_PX + 1)
    assert figures["coverage"] == round(float(hole.mean()), 5)
    hole, figures = damage_hole(np.full((40, 60), 255, dtype=np.uint8))
    assert hole is None and not figures["filled"] and "more than 35%" in figures["skipped"]
