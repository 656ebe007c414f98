"""The client against servers that fail: three balanced and one killed mid-run, a full queue, a token required."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from lumaflow.client import (
    EnhanceResult,
    LumaflowClient,
    Overloaded,
    RetryPolicy,
    Unauthenticated,
    Unavailable,
)
from lumaflow.server.process import TritonServer, running_server
from tests.fixtures import astronaut, encode, small_repository

pytestmark = pytest.mark.served

TOKEN = "s3cret-token"


def test_three_servers_share_the_load_evenly_and_one_killed_mid_run_loses_nothing(
    server: TritonServer, model_repository, tmp_path
) -> None:
    """Local scale-out (issue 11): client-side balancing over three servers on loopback.

    Two cores cannot show compute scaling (three servers share them); what this shows is the spread
    and the failover. docs/performance.md estimates replicas from measured per-GPU figures.
    """
    payload = encode(astronaut()[:48, :64])
    done = threading.Event()
    with (
        running_server(small_repository(model_repository, tmp_path / "b")) as doomed,
        running_server(small_repository(model_repository, tmp_path / "c")) as third,
    ):
        urls = [doomed.endpoints.grpc_url, server.endpoints.grpc_url, third.endpoints.grpc_url]
        with LumaflowClient(urls, retry=RetryPolicy(attempts=6, backoff_s=0.05), timeout=120) as client:
            with ThreadPoolExecutor(3) as pool:
                warm = list(pool.map(lambda _: client.enhance(payload, "upscale_x2_fast"), range(90)))
            spread = Counter(result.endpoint for result in warm)
            assert set(spread) == set(urls) and all(27 <= count <= 33 for count in spread.values()), spread
            completed = [0]
            lock = threading.Lock()

            def one(_: int) -> EnhanceResult:
                result = client.enhance(payload, "upscale_x2_fast")
                with lock:
                    completed[0] += 1
                    if completed[0] == 50:
                        done.set()
                return result

            with ThreadPoolExecutor(4) as pool:
                futures = [pool.submit(one, index) for index in range(200)]
                assert done.wait(120)
                assert doomed.process is not None
                doomed.process.kill()  # by PID: no drain, no goodbye
                results = [future.result() for future in futures]
    assert len(results) == 200 and all(result.image.size == (128, 96) for result in results)
    assert any(result.attempts > 1 for result in results)  # what hit the killed server was sent again
    retry_once = RetryPolicy(attempts=2, backoff_s=0.01)
    with LumaflowClient(urls[0], retry=retry_once, timeout=10) as alone, pytest.raises(Unavailable):
        alone.enhance(payload, "upscale_x2_fast")


@pytest.fixture(scope="module")
def guarded_server(model_repository, tmp_path_factory) -> Iterator[TritonServer]:
    """upscale_x2_fast alone, with a one-request queue at decode and a token required."""
    repository = small_repository(model_repository, tmp_path_factory.mktemp("guarded"), decode_queue=1)
    with running_server(repository, token=TOKEN) as started:
        yield started


def test_a_missing_token_is_unauthenticated_and_the_right_one_works(guarded_server: TritonServer) -> None:
    photo = astronaut()[:32, :32]
    with LumaflowClient(guarded_server.endpoints.grpc_url) as anonymous, pytest.raises(Unauthenticated):
        anonymous.enhance(photo, "upscale_x2_fast")
    with LumaflowClient(guarded_server.endpoints.grpc_url, token="wrong") as wrong, pytest.raises(Unauthenticated):
        wrong.enhance(photo, "upscale_x2_fast")
    with LumaflowClient(guarded_server.endpoints.grpc_url, token=TOKEN) as client:
        assert client.enhance(photo, "upscale_x2_fast").image.size == (64, 64)
        assert [info.name for info in client.pipelines()] == ["upscale_x2_fast"]


def test_a_full_queue_is_overloaded_and_retried_only_on_request(guarded_server: TritonServer) -> None:
    payload = encode(astronaut())  # 512x512: decode takes long enough for a queue to form

    def burst(client: LumaflowClient) -> list[object]:
        def one(_: int) -> object:
            try:
                return client.enhance(payload, "upscale_x2_fast")
            except Overloaded as error:
                return error

        with ThreadPoolExecutor(16) as pool:
            return list(pool.map(one, range(32)))

    with LumaflowClient(guarded_server.endpoints.grpc_url, token=TOKEN) as plain:
        outcomes = burst(plain)
    assert any(isinstance(outcome, Overloaded) for outcome in outcomes)
    patient = RetryPolicy(attempts=50, backoff_s=0.05, max_backoff_s=0.5, retry_overloaded=True)
    with LumaflowClient(guarded_server.endpoints.grpc_url, token=TOKEN, retry=patient) as client:
        outcomes = burst(client)
    assert all(isinstance(outcome, EnhanceResult) for outcome in outcomes)
