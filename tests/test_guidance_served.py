"""REGION and strength over real gRPC on real photos: same-size, upscaling, routed and stylize pipelines.

Outside the region (beyond half the feather) a pipeline returns the decoded input exactly, or its Pillow bicubic
upscale; inside (beyond the feather) what the plain pipeline returns, within 1 level; strength 0 returns the input
exactly without calling the network, 0.5 the linear blend; tiles the result does not show are never sent, and
INFO counts them (checked against the stage's own inference count).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from PIL import Image
from tritonclient.utils import InferenceServerException

from lumaflow.build import degrade
from lumaflow.client.protocol import photo_inputs
from lumaflow.ensemble.looks import TEMPLATE_NAMES
from lumaflow.ensemble.pipelines import PIPELINES
from lumaflow.loadtest.stats import model_counts
from tests.fixtures import astronaut, decode, encode, sporco_photo

pytestmark = pytest.mark.served

FEATHER = 8  # the default: the ramp reaches FEATHER / 2 px either side of the region's edge


def _run(
    client: grpcclient.InferenceServerClient,
    pipeline: str,
    photo: np.ndarray,
    options: dict | None = None,
    region: np.ndarray | None = None,
) -> tuple[np.ndarray, dict]:
    inputs = photo_inputs(encode(photo), options or {}, region=None if region is None else encode(region))
    result = client.infer(pipeline, inputs, client_timeout=300)
    return decode(result.as_numpy("ENHANCED")[0, 0]), json.loads(result.as_numpy("INFO")[0, 0])


def _bicubic(photo: np.ndarray, scale: int) -> np.ndarray:
    size = (photo.shape[1] * scale, photo.shape[0] * scale)
    return np.asarray(Image.fromarray(photo).resize(size, Image.Resampling.BICUBIC))


def _max_diff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())


def _left_half(photo: np.ndarray) -> np.ndarray:
    region = np.zeros(photo.shape[:2], dtype=np.uint8)
    region[:, : photo.shape[1] // 2] = 255
    return region


def test_denoise_in_half_the_photo_leaves_the_other_half_exact(client: grpcclient.InferenceServerClient) -> None:
    photo = degrade.gaussian_noise(astronaut(), 15.0, np.random.default_rng(5))
    options = {"noise_level": 15}
    plain, _ = _run(client, "denoise", photo, options)
    before = model_counts(client, "ffdnet")[0]
    guided, info = _run(client, "denoise", photo, options, _left_half(photo))
    sent = model_counts(client, "ffdnet")[0] - before
    half, edge = photo.shape[1] // 2, FEATHER // 2
    assert _max_diff(guided[:, half + edge :], photo[:, half + edge :]) == 0
    assert _max_diff(guided[:, : half - edge], plain[:, : half - edge]) <= 1
    # In the ramp, between the two.
    ramp = guided[:, half - edge : half + edge].astype(np.int16)
    low = np.minimum(photo, plain)[:, half - edge : half + edge]
    high = np.maximum(photo, plain)[:, half - edge : half + edge]
    assert np.all(ramp >= low.astype(np.int16) - 1) and np.all(ramp <= high.astype(np.int16) + 1)
    assert info["region"] == {"mode": "only", "coverage": 0.5, "feather_px": FEATHER, "tiles_left_out": 3}
    assert info["tiles"]["ffdnet"] == {"sent": sent, "left_out": 3}
    assert sent == 6  # 512 px in 3 x 3 tiles of 256 (224 px cores): the right column is left out


def test_upscale_except_a_corner_returns_bicubic_there(client: grpcclient.InferenceServerClient) -> None:
    photo = astronaut()
    region = np.zeros(photo.shape[:2], dtype=np.uint8)
    region[:100, :120] = 255  # keep the astronaut's corner as bicubic, upscale the rest
    options = {"region_mode": "except", "region_feather": 0}
    plain, _ = _run(client, "upscale_x2_fast", photo, {})
    before = model_counts(client, "espcn_x2")[0]
    guided, info = _run(client, "upscale_x2_fast", photo, options, region)
    sent = model_counts(client, "espcn_x2")[0] - before
    assert _max_diff(guided[:200, :240], _bicubic(photo, 2)[:200, :240]) == 0
    assert _max_diff(guided[200:], plain[200:]) <= 1 and _max_diff(guided[:, 240:], plain[:, 240:]) <= 1
    assert info["region"]["mode"] == "except" and info["region"]["coverage"] == pytest.approx(
        1 - 100 * 120 / 512**2, abs=1e-5
    )
    # Every tile touches the rest of the photo: none is left out.
    assert info["region"]["tiles_left_out"] == 0 and info["tiles"]["espcn_x2"]["sent"] == sent > 0


def test_upscale_only_in_a_corner_sends_only_its_tiles(client: grpcclient.InferenceServerClient) -> None:
    photo = sporco_photo("monarch")[:512, :512]
    region = np.zeros(photo.shape[:2], dtype=np.uint8)
    region[:60, :60] = 255
    before = model_counts(client, "span_x2")[0]
    guided, info = _run(client, "upscale_x2", photo, {}, region)
    sent = model_counts(client, "span_x2")[0] - before
    assert info["tiles"]["span_x2"] == {"sent": sent, "left_out": 9 - sent} and sent == 1
    assert info["region"]["tiles_left_out"] == 8
    assert _max_diff(guided[:, 140:], _bicubic(photo, 2)[:, 140:]) == 0


def test_strength_zero_is_the_input_and_calls_no_network(client: grpcclient.InferenceServerClient) -> None:
    photo = sporco_photo("monarch")[:256, :384]
    for pipeline, stage, scale in (("dejpeg", "deblock", 1), ("upscale_x2_fast", "espcn_x2", 2)):
        before = model_counts(client, stage)[0]
        result, info = _run(client, pipeline, photo, {"strength": 0})
        assert model_counts(client, stage)[0] == before, pipeline
        assert _max_diff(result, _bicubic(photo, scale)) == 0, pipeline
        assert info["strength"] == 0 and "region" not in info


def test_strength_half_is_the_linear_blend(client: grpcclient.InferenceServerClient) -> None:
    photo = degrade.gaussian_noise(sporco_photo("monarch")[:256, :384], 20.0, np.random.default_rng(2))
    for pipeline, options, scale in (("denoise", {"noise_level": 20}, 1), ("upscale_x2_fast", {}, 2)):
        plain, _ = _run(client, pipeline, photo, options)
        half, info = _run(client, pipeline, photo, {**options, "strength": 0.5})
        base = _bicubic(photo, scale).astype(np.float32)
        assert _max_diff(half, np.rint((base + plain) / 2).astype(np.uint8)) <= 1, pipeline
        assert info["strength"] == 0.5


def test_a_routed_pipeline_keeps_the_region(client: grpcclient.InferenceServerClient) -> None:
    photo = degrade.gaussian_noise(astronaut()[:256, :320], 15.0, np.random.default_rng(8))
    options = {"scale": 2, "restore": "denoise", "noise_level": 15, "low_light": "off"}
    plain, _ = _run(client, "photo_enhance", photo, options)
    guided, info = _run(client, "photo_enhance", photo, options, _left_half(photo))
    half, edge = photo.shape[1] // 2 * 2, FEATHER // 2 * 2
    assert _max_diff(guided[:, half + edge :], _bicubic(photo, 2)[:, half + edge :]) == 0
    assert _max_diff(guided[:, : half - edge], plain[:, : half - edge]) <= 1
    assert [step["stage"] for step in info["route"]] == ["ffdnet", "span_x2"]
    assert set(info["tiles"]) == {"ffdnet", "span_x2"} and info["region"]["coverage"] == 0.5


def test_stylize_keeps_its_own_strength_and_takes_a_region(client: grpcclient.InferenceServerClient) -> None:
    photo = astronaut()[:256, :256]
    options = {"template": TEMPLATE_NAMES[0], "strength": 0.7}
    plain, _ = _run(client, "stylize", photo, options)
    guided, info = _run(client, "stylize", photo, options, _left_half(photo))
    assert _max_diff(guided[:, 132:], photo[:, 132:]) == 0
    assert _max_diff(guided[:, :124], plain[:, :124]) <= 1
    assert "strength" not in info and info["region"]["coverage"] == 0.5


def test_a_region_of_another_size_is_refused(client: grpcclient.InferenceServerClient) -> None:
    photo = astronaut()[:64, :96]
    with pytest.raises(InferenceServerException, match=r"\[mask_mismatch\] The REGION image is 64x64"):
        _run(client, "denoise", photo, {}, np.zeros((64, 64), dtype=np.uint8))


def test_every_photo_pipeline_but_inpaint_lists_region(client: grpcclient.InferenceServerClient) -> None:
    for name, pipeline in PIPELINES.items():
        metadata = client.get_model_metadata(name, as_json=True)
        inputs = {tensor["name"] for tensor in metadata["inputs"]}
        schema = json.loads(
            client.get_model_config(name, as_json=True)["config"]["parameters"]["options_schema"]["string_value"]
        )
        keys = set(schema["properties"])
        if name == "inpaint":
            assert "REGION" not in inputs and not keys & {"region_mode", "region_feather", "strength"}
            continue
        assert "REGION" in inputs and {"region_mode", "region_feather", "strength"} <= keys, name
        assert pipeline.blends_strength == (name != "stylize")
