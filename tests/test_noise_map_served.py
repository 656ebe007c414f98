"""The noise-map estimator over gRPC (issue 31): camera noise gets the estimator's level, white noise keeps the
analysis network's, INFO says which and the map's range, and the served result equals the offline graphs."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from lumaflow.build import degrade
from lumaflow.build.camera_noise import camera_pipeline, camera_reference
from lumaflow.build.eval import rgb_psnr
from lumaflow.build.evaluate import offline_server
from lumaflow.ensemble.pipelines import DENOISE
from tests.fixtures import astronaut, decode, encode, enhance

pytestmark = pytest.mark.served


def _camera_photo() -> tuple[np.ndarray, np.ndarray]:
    clean = astronaut()[160:352, 100:356]  # 256 x 192 from the middle: the night camera's noise reads low there
    return camera_pipeline(clean, "night", 7), camera_reference(clean)


def test_camera_noise_is_told_the_estimators_level_and_gains_over_the_analysis_level(
    client: grpcclient.InferenceServerClient,
) -> None:
    noisy, reference = _camera_photo()
    data, info = enhance(client, encode(noisy), "denoise")
    off, off_info = enhance(client, encode(noisy), "denoise", options={"noise_map": "off"})
    reading, level = info["analysis"]["noise_map"], info["analysis"]["noise_level"]
    assert reading["used"] and level["source"] == "noise-map estimator" and level["sigma"] == reading["level"]
    assert reading["range"][0] <= reading["level"] <= reading["range"][1]
    assert (
        off_info["analysis"]["noise_level"]["source"] == "analysis network" and "noise_map" not in off_info["analysis"]
    )
    assert level["sigma"] >= 2 * off_info["analysis"]["noise_level"]["sigma"]
    assert rgb_psnr(decode(data), reference) > rgb_psnr(decode(off), reference) + 0.5
    offline = offline_server().run(DENOISE, encode(noisy), {})
    assert np.array_equal(offline.pixels, decode(data)) and offline.info["analysis"] == info["analysis"]


def test_white_noise_keeps_the_analysis_level_and_a_given_level_asks_no_estimator(
    client: grpcclient.InferenceServerClient,
) -> None:
    clean = astronaut()[:192, :256]
    noisy = degrade.gaussian_noise(clean, 25.0, np.random.default_rng(3))
    _, info = enhance(client, encode(noisy), "denoise")
    assert not info["analysis"]["noise_map"]["used"] and info["analysis"]["noise_level"]["source"] == "analysis network"
    _, told = enhance(client, encode(noisy), "denoise", options={"noise_level": 20})
    assert told["analysis"] == {"noise_level": {"sigma": 20.0, "source": "options"}}


def test_the_router_denoises_camera_noise_at_the_estimators_level(client: grpcclient.InferenceServerClient) -> None:
    noisy, _ = _camera_photo()
    _, info = enhance(client, encode(noisy), "photo_enhance", options={"restore": "denoise"})
    (step,) = info["route"]
    reading = info["analysis"]["noise_map"]
    assert (
        step["stage"] == "ffdnet"
        and reading["used"]
        and step["noise_level"] == pytest.approx(reading["level"], abs=0.01)
    )
