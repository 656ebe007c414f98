"""OPTIONS: validated against the pipeline's schema, as a pure function and over real gRPC."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from PIL import Image
from tritonclient.utils import InferenceServerException

from lumaflow.build.deploy import DEFAULT_REPOSITORY
from lumaflow.ensemble.options import SCHEMA_FILE
from lumaflow.runtime.errors import InvalidInput
from lumaflow.runtime.options import OptionsParser
from tests.fixtures import astronaut, encode, image_input

SCHEMA = json.loads((DEFAULT_REPOSITORY / "upscale_x2" / SCHEMA_FILE).read_text())


@pytest.mark.unit
def test_no_options_means_the_defaults() -> None:
    parser = OptionsParser(SCHEMA)
    defaults = {
        "format": "png",
        "quality": 92,
        "color_profile": "srgb",
        "keep_gps": False,
        "quality_check": True,
        "progress": None,
        "region_mode": "only",
        "region_feather": 8,
        "strength": 1.0,
    }
    assert parser.parse(None) == defaults
    assert parser.parse(b"") == defaults
    assert parser.parse(b'{"format": "jpeg"}') == {**defaults, "format": "jpeg"}


@pytest.mark.unit
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{format: jpeg}", "[invalid_options] OPTIONS is not valid JSON"),
        (b'["png"]', "[invalid_options] OPTIONS must be a JSON object, got list."),
        (b'{"format": "gif"}', "[invalid_options] OPTIONS.format: 'gif' is not one of ['png', 'jpeg', 'webp']."),
        (b'{"quality": 0}', "[invalid_options] OPTIONS.quality: 0 is less than the minimum of 1."),
        (b'{"quality": "high"}', "[invalid_options] OPTIONS.quality: 'high' is not of type 'integer'."),
        (b'{"scale": 4}', "[invalid_options] OPTIONS: Additional properties are not allowed ('scale' was unexpected)"),
    ],
    ids=["not-json", "not-object", "bad-format", "quality-too-low", "quality-wrong-type", "unknown-key"],
)
def test_bad_options_say_which_key_and_why(raw: bytes, expected: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        OptionsParser(SCHEMA).parse(raw)
    assert str(caught.value).startswith(expected)


def _send(client: grpcclient.InferenceServerClient, options: bytes | None) -> tuple[bytes, dict]:
    inputs = [image_input(encode(astronaut()[:96, :128]))]
    if options is not None:
        tensor = grpcclient.InferInput("OPTIONS", [1, 1], "BYTES")
        tensor.set_data_from_numpy(np.array([[options]], dtype=np.object_))
        inputs.append(tensor)
    result = client.infer("upscale_x2", inputs)
    return result.as_numpy("ENHANCED")[0, 0], json.loads(result.as_numpy("INFO")[0, 0])


@pytest.mark.served
@pytest.mark.parametrize("fmt", ["jpeg", "webp", "png"])
def test_output_format_follows_options(client: grpcclient.InferenceServerClient, fmt: str) -> None:
    enhanced, info = _send(client, json.dumps({"format": fmt, "quality": 80}).encode())
    image = Image.open(io.BytesIO(enhanced))
    assert image.format == {"jpeg": "JPEG", "webp": "WEBP", "png": "PNG"}[fmt] == info["output"]["format"]
    assert image.size == (256, 192)


@pytest.mark.served
def test_jpeg_quality_changes_the_file(client: grpcclient.InferenceServerClient) -> None:
    low, _ = _send(client, b'{"format": "jpeg", "quality": 20}')
    high, _ = _send(client, b'{"format": "jpeg", "quality": 95}')
    assert len(low) < len(high) / 2


@pytest.mark.served
def test_bad_options_over_grpc_are_invalid_argument(client: grpcclient.InferenceServerClient) -> None:
    with pytest.raises(InferenceServerException) as caught:
        _send(client, b'{"format": "gif"}')
    assert caught.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "[invalid_options] OPTIONS.format: 'gif' is not one of" in caught.value.message()
    enhanced, info = _send(client, None)  # the next request, without OPTIONS, still works
    assert info["output"]["format"] == "PNG" and Image.open(io.BytesIO(enhanced)).format == "PNG"


@pytest.mark.served
def test_the_ensemble_declares_options_optional(client: grpcclient.InferenceServerClient) -> None:
    config = client.get_model_config("upscale_x2", as_json=True)["config"]
    options = [tensor for tensor in config["input"] if tensor["name"] == "OPTIONS"]
    assert options and options[0]["optional"] is True and options[0]["data_type"] == "TYPE_STRING"


@pytest.mark.unit
def test_a_preset_fills_in_its_bundle_under_the_requests_own_keys() -> None:
    schema = json.loads((DEFAULT_REPOSITORY / "photo_enhance" / SCHEMA_FILE).read_text())
    presets = {"camera_720p": {"scale": 2, "fast": True, "format": "jpeg", "quality": 90}}
    parser = OptionsParser(schema, presets)
    parsed = parser.parse(b'{"preset": "camera_720p", "quality": 75}')
    assert parsed["scale"] == 2 and parsed["fast"] is True and parsed["format"] == "jpeg"
    assert parsed["quality"] == 75 and parsed["preset"] == "camera_720p"
    assert "preset" not in parser.parse(None)
    with pytest.raises(InvalidInput, match=r"^\[invalid_options\] OPTIONS.preset: 'studio' is not one of"):
        parser.parse(b'{"preset": "studio"}')
