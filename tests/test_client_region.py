"""User-guided enhancement on the client (issue 27): REGION on the wire, strength / region_mode /
region_feather in OPTIONS, from ``enhance`` (sync and asyncio, retries included) and ``lumaflow enhance``.

No server: tritonclient's client is replaced by a fake (``LumaflowClient._client``) that records each
request's tensors as the server would receive them and answers a small PNG.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from tritonclient.utils import InferenceServerException, deserialize_bytes_tensor

from lumaflow import contract
from lumaflow.cli import main
from lumaflow.client import AsyncLumaflowClient, LumaflowClient
from lumaflow.client.images import encoded_region
from lumaflow.client.policy import RetryPolicy
from lumaflow.client.protocol import PHOTO_REGION, photo_inputs, photo_options
from tests.fixtures import astronaut, encode

pytestmark = pytest.mark.unit

PHOTO = astronaut()[:24, :32]
NO_WAIT = RetryPolicy(attempts=3, backoff_s=0.0)


def sent(inputs: list[Any]) -> dict[str, bytes]:
    """A request's BYTES tensors as the server receives them: name -> the one element's bytes."""
    return {tensor.name(): bytes(deserialize_bytes_tensor(tensor._get_content())[0]) for tensor in inputs}


def options_of(request: dict[str, bytes]) -> dict[str, Any]:
    return json.loads(request[contract.OPTIONS.name]) if contract.OPTIONS.name in request else {}


class Answer:
    def __init__(self) -> None:
        self.outputs = {
            contract.ENHANCED.name: encode(PHOTO),
            contract.INFO.name: json.dumps({"output": {"format": "PNG"}}).encode(),
        }

    def as_numpy(self, name: str) -> np.ndarray:
        return np.array([[self.outputs[name]]], dtype=np.object_)


class FakeTriton:
    """tritonclient's sync client: records every request; the first ``failures`` tries are UNAVAILABLE."""

    def __init__(self, failures: int = 0) -> None:
        self.requests: list[dict[str, bytes]] = []
        self.failures = failures

    def infer(self, pipeline: str, inputs: list[Any], **_: Any) -> Answer:
        self.requests.append(sent(inputs))
        if len(self.requests) <= self.failures:
            raise InferenceServerException("failed to connect to all addresses", status="StatusCode.UNAVAILABLE")
        return Answer()

    def is_server_ready(self, **_: Any) -> bool:
        return True

    def close(self) -> None:
        pass


class AsyncFakeTriton(FakeTriton):
    async def infer(self, pipeline: str, inputs: list[Any], **kwargs: Any) -> Answer:  # type: ignore[override]
        return FakeTriton.infer(self, pipeline, inputs, **kwargs)

    async def is_server_ready(self, **_: Any) -> bool:  # type: ignore[override]
        return True

    async def close(self) -> None:  # type: ignore[override]
        pass


@pytest.fixture
def triton(monkeypatch: pytest.MonkeyPatch) -> FakeTriton:
    fake = FakeTriton()
    monkeypatch.setattr(LumaflowClient, "_client", lambda self, url, **_: fake)
    return fake


def region_array() -> np.ndarray:
    here = np.zeros(PHOTO.shape[:2], dtype=bool)
    here[4:12, 8:20] = True
    return here


def decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


# --- the wire ---------------------------------------------------------------------------------------------


def test_photo_inputs_carry_region_bytes_only_when_given() -> None:
    assert PHOTO_REGION == contract.REGION.name == "REGION"
    request = sent(photo_inputs(b"image", {"strength": 0.5}, None, b"region"))
    assert request == {"IMAGE": b"image", "REGION": b"region", "OPTIONS": b'{"strength": 0.5}'}
    with_mask = sent(photo_inputs(b"image", {}, b"mask", b"region"))
    assert with_mask == {"IMAGE": b"image", "MASK": b"mask", "REGION": b"region"}
    assert sent(photo_inputs(b"image", {}, b"mask")) == {"IMAGE": b"image", "MASK": b"mask"}
    assert "REGION" not in sent(photo_inputs(b"image", {"format": "jpeg"}, None, None))


def test_guidance_options_are_sent_only_when_given_and_never_twice() -> None:
    assert photo_options(None, {"format": "jpeg"}, strength=None, region_mode=None) == {"format": "jpeg"}
    assert photo_options("gentle", {}, strength=0.0, region_feather=0) == {
        "strength": 0.0,
        "region_feather": 0,
        "preset": "gentle",
    }
    with pytest.raises(TypeError, match="multiple values for keyword argument 'strength'"):
        photo_options(None, {"strength": 0.7}, strength=0.5)


def test_a_region_array_or_file_becomes_what_the_server_reads() -> None:
    here = region_array()
    assert np.array_equal(decoded(encoded_region(here)), np.where(here, 255, 0))
    grey = np.full(here.shape, 100, dtype=np.uint8)
    grey[here] = 200  # sent as the same grey pixels a file would hold: above 127 = here
    assert np.array_equal(decoded(encoded_region(grey)), grey)
    with pytest.raises(ValueError, match="above 127"):
        encoded_region(here.astype(np.uint8))  # 0/1 would mean nowhere
    png = encode(np.where(here, 255, 0).astype(np.uint8))
    assert encoded_region(png) == png


# --- enhance -----------------------------------------------------------------------------------------------


def test_enhance_sends_region_and_guidance_options(triton: FakeTriton) -> None:
    with LumaflowClient("fake:8001") as client:
        result = client.enhance(
            encode(PHOTO),
            "denoise",
            region=region_array(),
            strength=0.25,
            region_mode="except",
            region_feather=3,
            format="jpeg",
        )
        client.enhance(encode(PHOTO), "denoise")
    assert result.image.size == (32, 24)
    guided, unguided = triton.requests
    assert options_of(guided) == {"format": "jpeg", "strength": 0.25, "region_mode": "except", "region_feather": 3}
    assert np.array_equal(decoded(guided["REGION"]), np.where(region_array(), 255, 0))
    assert guided["IMAGE"] == encode(PHOTO)
    assert unguided.keys() == {"IMAGE"}  # nothing given: no REGION, no OPTIONS (the server's defaults)


def test_a_guidance_keyword_given_twice_is_refused(triton: FakeTriton) -> None:
    with LumaflowClient("fake:8001") as client, pytest.raises(TypeError, match="multiple values"):
        client.enhance(encode(PHOTO), strength=0.5, **{"strength": 0.7})  # type: ignore[misc]
    assert triton.requests == []


def test_region_and_strength_go_again_with_every_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeTriton(failures=1)
    monkeypatch.setattr(LumaflowClient, "_client", lambda self, url, **_: fake)
    with LumaflowClient("fake:8001", retry=NO_WAIT) as client:
        result = client.enhance(encode(PHOTO), region=region_array(), strength=0.5)
    assert result.attempts == 2 and len(fake.requests) == 2
    assert fake.requests[0] == fake.requests[1] and "REGION" in fake.requests[1]

    aio_fake = AsyncFakeTriton(failures=2)
    monkeypatch.setattr(AsyncLumaflowClient, "_client", lambda self, url, **_: aio_fake)

    async def call() -> Any:
        async with AsyncLumaflowClient("fake:8001", retry=NO_WAIT, max_in_flight=1) as aio:
            return await aio.enhance(
                encode(PHOTO), "denoise", mask=region_array(), region=region_array(), region_mode="only", strength=1
            )

    result = asyncio.run(call())
    assert result.attempts == 3 and len(aio_fake.requests) == 3
    assert all(request == aio_fake.requests[0] for request in aio_fake.requests)
    first = aio_fake.requests[0]
    assert first.keys() == {"IMAGE", "MASK", "REGION", "OPTIONS"}
    assert options_of(first) == {"region_mode": "only", "strength": 1}
    assert np.array_equal(decoded(first["REGION"]), np.where(region_array(), 255, 0))


# --- lumaflow enhance -------------------------------------------------------------------------------------


@pytest.fixture
def photos(tmp_path: Path) -> tuple[Path, Path, Path]:
    first, second, region = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "region.png"
    first.write_bytes(encode(PHOTO))
    second.write_bytes(encode(PHOTO[::-1]))
    region.write_bytes(encode(np.where(region_array(), 255, 0).astype(np.uint8)))
    return first, second, region


def test_the_cli_sends_the_region_file_and_the_guidance_flags(
    triton: FakeTriton, photos: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    first, _, region = photos
    out = tmp_path / "out.png"
    args = ["enhance", str(first), "-o", str(out), "--pipeline", "denoise", "--url", "fake:8001"]
    guidance = ["--region", str(region), "--region-mode", "except", "--region-feather", "2.5", "--strength", "0.4"]
    assert main([*args, *guidance, "--option", "format=png"]) == 0
    assert Image.open(out).size == (32, 24)
    (request,) = triton.requests
    assert request["REGION"] == region.read_bytes()  # the file as it is, not re-encoded
    assert options_of(request) == {"format": "png", "region_mode": "except", "region_feather": 2.5, "strength": 0.4}


def test_the_cli_applies_strength_to_every_input(
    triton: FakeTriton, photos: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    first, second, _ = photos
    command = ["enhance", str(first), str(second), "-o", str(tmp_path / "out"), "--url", "fake:8001"]
    assert main([*command, "--strength", "0"]) == 0
    assert len(triton.requests) == 2
    assert all(options_of(request) == {"strength": 0.0} and "REGION" not in request for request in triton.requests)


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan", "strong"])
def test_the_cli_refuses_a_strength_outside_0_to_1(
    value: str, triton: FakeTriton, photos: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command = ["enhance", str(photos[0]), "-o", str(tmp_path / "out.png"), "--url", "fake:8001"]
    with pytest.raises(SystemExit) as stopped:
        main([*command, "--strength", value])
    assert stopped.value.code == 2
    assert f"argument --strength: must be a number from 0 to 1, got '{value}'" in capsys.readouterr().err
    assert triton.requests == []


def test_the_cli_refuses_bad_region_flags(
    triton: FakeTriton, photos: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second, region = photos
    one = ["enhance", str(first), "-o", str(tmp_path / "out.png"), "--url", "fake:8001"]
    for flags in (["--region-mode", "inside"], ["--region-feather", "-1"]):
        with pytest.raises(SystemExit) as stopped:
            main([*one, *flags])
        assert stopped.value.code == 2 and f"argument {flags[0]}" in capsys.readouterr().err

    several = ["enhance", str(first), str(second), "-o", str(tmp_path / "out"), "--url", "fake:8001"]
    assert main([*several, "--region", str(region)]) == 2
    assert "lumaflow enhance: --region takes one input" in capsys.readouterr().err

    assert main([*one, "--region", str(tmp_path / "missing.png")]) == 2
    assert f"--region no such file: {tmp_path / 'missing.png'}" in capsys.readouterr().err

    assert main([*one, "--strength", "0.5", "--option", "strength=0.3"]) == 2
    assert "--strength and --option strength=... both given" in capsys.readouterr().err
    assert triton.requests == []
