"""photo_enhance's routing decision, without a server: what the analysis and OPTIONS make it run."""

from __future__ import annotations

from typing import Any

import pytest

from lumaflow.ensemble.options import defaults
from lumaflow.ensemble.pipelines import PHOTO_ENHANCE
from lumaflow.server.routing import plan_route

CLEAN = {"noise_sigma": 0.5, "jpeg_quality": 98.0, "blur_sigma": 0.1, "exposure_ev": 0.0}


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


def test_every_preset_is_a_valid_bundle_of_photo_enhance_options() -> None:
    from jsonschema import Draft202012Validator

    from lumaflow.ensemble.options import options_schema

    schema = options_schema(PHOTO_ENHANCE.name, PHOTO_ENHANCE.options, PHOTO_ENHANCE.presets)
    assert schema["properties"]["preset"]["enum"] == ["portrait", "low_light", "print_300dpi", "camera_720p"]
    for preset in PHOTO_ENHANCE.presets.values():
        Draft202012Validator(schema).validate(dict(preset))
