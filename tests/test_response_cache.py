"""Triton's response cache: off by default (load tests must not measure it), on with --response-cache-mb."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import tritonclient.grpc as grpcclient

from lumaflow.server.process import TritonServer, running_server
from tests.fixtures import astronaut, encode, enhance

pytestmark = pytest.mark.served


def cache_hits(client: grpcclient.InferenceServerClient, model: str) -> int:
    stats = client.get_inference_statistics(model, as_json=True)["model_stats"][0]
    return int(stats.get("inference_stats", {}).get("cache_hit", {}).get("count", 0))


def send_twice(client: grpcclient.InferenceServerClient) -> tuple[bytes, bytes]:
    data = encode(astronaut()[:64, :96])
    first, _ = enhance(client, data, "upscale_x2_fast")
    second, _ = enhance(client, data, "upscale_x2_fast")
    return first, second


def test_the_default_server_has_no_cache(client: grpcclient.InferenceServerClient) -> None:
    before = cache_hits(client, "upscale_x2_fast")
    send_twice(client)
    assert cache_hits(client, "upscale_x2_fast") == before


@pytest.fixture(scope="module")
def cached_server(model_repository: Path) -> Iterator[TritonServer]:
    with running_server(model_repository, response_cache_mb=64) as started:
        yield started


def test_a_repeated_request_is_answered_from_the_cache(cached_server: TritonServer) -> None:
    with grpcclient.InferenceServerClient(cached_server.endpoints.grpc_url) as client:
        first, second = send_twice(client)
        assert first == second
        assert cache_hits(client, "upscale_x2_fast") == 1
