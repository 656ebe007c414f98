"""lumaflow.client against a real server: every input form, typed errors from real failures, the catalog."""

from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
from PIL import Image

from lumaflow.client import (
    AsyncLumaflowClient,
    ClientMetrics,
    DeadlineExceeded,
    EnhanceResult,
    ImageTooLarge,
    InvalidImage,
    InvalidOptions,
    LumaflowClient,
    LumaflowError,
    RetryPolicy,
    Unavailable,
    UnknownPipeline,
)
from lumaflow.server.endpoints import free_endpoints
from lumaflow.server.process import TritonServer
from tests.fixtures import astronaut, encode

pytestmark = pytest.mark.served


@pytest.fixture()
def lumaflow(server: TritonServer) -> LumaflowClient:
    with LumaflowClient(server.endpoints.grpc_url, timeout=120) as client:
        yield client


def test_enhance_takes_bytes_paths_pil_images_and_arrays(lumaflow: LumaflowClient, tmp_path) -> None:
    photo = astronaut()[:48, :64]
    path = tmp_path / "photo.png"
    path.write_bytes(encode(photo))
    for image in (encode(photo), path, str(path), Image.fromarray(photo), photo):
        result = lumaflow.enhance(image, "upscale_x2_fast")
        assert isinstance(result, EnhanceResult) and result.image.size == (128, 96)
        assert result.info["pipeline"] == "upscale_x2_fast" and set(result.timings_ms) >= {"decode", "encode"}
        assert result.attempts == 1 and result.seconds > 0


def test_options_go_through_as_keywords(lumaflow: LumaflowClient) -> None:
    result = lumaflow.enhance(astronaut()[:48, :64], "upscale_x2_fast", format="jpeg", quality=80)
    assert result.format == "JPEG" and Image.open(io.BytesIO(result.data)).format == "JPEG"


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda c: c.enhance(b"%PDF-1.4 not an image", "upscale_x2_fast"), InvalidImage),
        (lambda c: c.enhance(encode(np.full((4100, 4100, 3), 9, np.uint8)), "upscale_x2_fast"), ImageTooLarge),
        (lambda c: c.enhance(astronaut()[:32, :32], "upscale_x2_fast", quality=0), InvalidOptions),
        (lambda c: c.enhance(astronaut()[:32, :32], "upscale_x3"), UnknownPipeline),
        (
            lambda c: c.enhance(np.tile(astronaut(), (3, 3, 1))[:1200, :1500], "upscale_x2", timeout=1.0),
            DeadlineExceeded,
        ),
    ],
    ids=["invalid-image", "too-large", "bad-option", "unknown-pipeline", "deadline"],
)
def test_real_failures_raise_typed_errors(lumaflow: LumaflowClient, call, error: type[LumaflowError]) -> None:
    with pytest.raises(error) as caught:
        call(lumaflow)
    assert type(caught.value) is error
    assert caught.value.status.startswith("StatusCode.") or isinstance(caught.value, DeadlineExceeded)


def test_a_server_that_is_not_there_is_unavailable_after_retries() -> None:
    metrics = ClientMetrics()
    nobody = free_endpoints().grpc_url
    with LumaflowClient(nobody, retry=RetryPolicy(attempts=3, backoff_s=0.01), metrics=metrics, timeout=20) as client:
        with pytest.raises(Unavailable):
            client.enhance(astronaut()[:32, :32], "upscale_x2_fast")
        assert client.health() == {nobody: {"live": False, "ready": False}}
    retries = metrics.registry.get_sample_value(
        "lumaflow_client_retries_total", {"pipeline": "upscale_x2_fast", "error": "Unavailable"}
    )
    errors = metrics.registry.get_sample_value(
        "lumaflow_client_errors_total", {"pipeline": "upscale_x2_fast", "error": "Unavailable"}
    )
    assert (retries, errors) == (2.0, 1.0)


def test_a_bad_request_is_never_retried(server: TritonServer) -> None:
    metrics = ClientMetrics()
    with LumaflowClient(server.endpoints.grpc_url, metrics=metrics) as client, pytest.raises(InvalidImage):
        client.enhance(b"junk", "upscale_x2_fast")
    assert (
        metrics.registry.get_sample_value(
            "lumaflow_client_retries_total", {"pipeline": "upscale_x2_fast", "error": "InvalidImage"}
        )
        is None
    )


def test_enhance_many_keeps_order_and_puts_errors_in_place(lumaflow: LumaflowClient) -> None:
    images = [astronaut()[:32, :40], b"junk", astronaut()[:40, :32], astronaut()[:24, :24]]
    results = lumaflow.enhance_many(images, "upscale_x2_fast", concurrency=3)
    assert isinstance(results[1], InvalidImage)
    sizes = [r.image.size for r in results if isinstance(r, EnhanceResult)]
    assert sizes == [(80, 64), (64, 80), (48, 48)]


def test_pipelines_lists_photo_and_camera_pipelines_with_their_options(lumaflow: LumaflowClient) -> None:
    pipelines = {info.name: info for info in lumaflow.pipelines()}
    assert {"upscale_x2", "denoise", "camera_x2", "camera_x1"} <= set(pipelines)
    assert pipelines["upscale_x2"].kind == "photo" and pipelines["camera_x2"].kind == "camera"
    assert "noise_level" in pipelines["denoise"].options_schema["properties"]
    assert pipelines["upscale_x2"].description
    presets = pipelines["photo_enhance"].presets
    assert presets["camera_720p"] == {"scale": 2, "fast": True, "format": "jpeg", "quality": 90}
    assert sorted(pipelines["photo_enhance"].options_schema["properties"]["preset"]["enum"]) == sorted(presets)
    result = lumaflow.enhance(astronaut()[:48, :64], "photo_enhance", preset="camera_720p", quality=70)
    assert result.image.size == (128, 96) and result.info["route"][0]["stage"] == "espcn_x2"


def test_health_and_raw_frames(lumaflow: LumaflowClient, server: TritonServer) -> None:
    assert lumaflow.health() == {server.endpoints.grpc_url: {"live": True, "ready": True}}
    frame = np.ascontiguousarray(astronaut()[:120, :160])
    assert lumaflow.enhance_frame(frame, "camera_x2").shape == (240, 320, 3)


def test_the_async_client_does_the_same(server: TritonServer) -> None:
    async def session() -> tuple[list[EnhanceResult | LumaflowError], set[str], dict[str, dict[str, bool]]]:
        async with AsyncLumaflowClient(server.endpoints.grpc_url) as lumaflow:
            images = [astronaut()[:32, :40], b"junk", astronaut()[:40, :32]]
            results = await lumaflow.enhance_many(images, "upscale_x2_fast", concurrency=2)
            names = {info.name for info in await lumaflow.pipelines()}
            mask = np.zeros((32, 40), dtype=bool)
            mask[8:20, 10:30] = True
            filled = await lumaflow.enhance(astronaut()[:32, :40], "inpaint", mask=mask)
            assert filled.image.size == (40, 32) and filled.info["analysis"]["mask"]["fraction"] > 0.2
            return results, names, await lumaflow.health()

    results, names, health = asyncio.run(session())
    assert isinstance(results[0], EnhanceResult) and results[0].image.size == (80, 64)
    assert isinstance(results[1], InvalidImage)
    assert isinstance(results[2], EnhanceResult) and results[2].image.size == (64, 80)
    assert {"upscale_x2_fast", "camera_x2"} <= names
    assert health == {server.endpoints.grpc_url: {"live": True, "ready": True}}


def test_triton_says_what_the_message_table_expects(server: TritonServer) -> None:
    """The rows of errors.MESSAGE_FORMS met by real failures (queue full and token: test_client_resilience)."""
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    from lumaflow.client.errors import MESSAGE_FORMS, from_triton
    from lumaflow.client.protocol import photo_inputs

    seen: dict[str, InferenceServerException] = {}
    with grpcclient.InferenceServerClient(server.endpoints.grpc_url) as raw:
        for name, call in {
            "unknown model": lambda: raw.infer("upscale_x3", photo_inputs(encode(astronaut()[:8, :8]), {})),
            "deadline passed": lambda: raw.infer(
                "upscale_x2", photo_inputs(encode(np.tile(astronaut(), (3, 3, 1))[:1200, :1500]), {}), timeout=500_000
            ),
        }.items():
            with pytest.raises(InferenceServerException) as caught:
                call()
            seen[name] = caught.value
    for fragment, error in seen.items():
        rows = [row for row in MESSAGE_FORMS if row[1] == fragment]
        assert [status for status, _, _ in rows] == [error.status()], (fragment, error.status(), error.message())
        assert fragment in error.message().lower()
        assert isinstance(from_triton(error), rows[0][2])
