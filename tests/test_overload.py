"""Overload protection against a real server: bounded queues refuse fast, deadlines are honoured where
requests wait, photo networks cannot take the cores from camera stages, and the client holds back.

Each test names the protection it catches; the declarations are in ``lumaflow.ensemble.stages``
(gates, ``FOLLOW_DEADLINE``, ``PHOTO_RATE_LIMIT``), the server flag in ``server_argv`` and the
client's bound in ``lumaflow.client.core``.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from google.protobuf import text_format
from PIL import Image
from tritonclient.grpc import model_config_pb2 as pb
from tritonclient.utils import InferenceServerException

from lumaflow.client import AsyncLumaflowClient, DeadlineExceeded, EnhanceResult, LumaflowClient, Overloaded
from lumaflow.client.errors import from_triton
from lumaflow.client.protocol import photo_inputs
from lumaflow.ensemble.stages import CAMERA_X2, ESPCN_X2, PHOTO_COMPUTE, PHOTO_COMPUTE_COUNT, STAGES
from lumaflow.server.argv import server_argv
from lumaflow.server.options import ServerOptions
from lumaflow.server.process import TritonServer, running_server
from tests.fixtures import FAST_MODELS, astronaut, encode, stub_cpu_seconds

MODELS = (*FAST_MODELS, "camera_x2", "camera_sr_x2")
STARTED_CPU_S = 0.05  # a stub at rest uses next to none; the big batch takes seconds of CPU


def copy_models(source: Path, destination: Path, change: Callable[[pb.ModelConfig], None] | None = None) -> Path:
    """The models above, as generated; ``change`` edits each config (to take a protection away)."""
    for name in MODELS:
        shutil.copytree(source / name, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        if change is not None:
            path = destination / name / "config.pbtxt"
            config = text_format.Parse(path.read_text(), pb.ModelConfig())
            change(config)
            path.write_text(text_format.MessageToString(config))
    return destination


@pytest.fixture(scope="module")
def small_server(model_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonServer]:
    with running_server(copy_models(model_repository, tmp_path_factory.mktemp("overload"))) as started:
        yield started


def photo(side: int) -> bytes:
    return encode(np.asarray(Image.fromarray(astronaut()).resize((side, side), Image.Resampling.BICUBIC)))


# --- the declarations ------------------------------------------------------------------------------------


@pytest.mark.build
def test_every_photo_network_needs_photo_compute_and_camera_stages_do_not(model_repository: Path) -> None:
    """Catches: a photo network without the rate limiter's resource, a camera stage given it."""
    for stage in STAGES.values():
        if stage.network is None:
            continue
        config = text_format.Parse((model_repository / stage.name / "config.pbtxt").read_text(), pb.ModelConfig())
        (group,) = config.instance_group
        resources = {(r.name, r.count, getattr(r, "global")) for r in group.rate_limiter.resources}
        if stage.name.startswith("camera_"):
            assert resources == set() and group.rate_limiter.priority == 1, stage.name
            policy = config.dynamic_batching.default_queue_policy
            assert 0 < policy.max_queue_size <= 2 * stage.max_batch_size and policy.default_timeout_microseconds > 0
        else:
            assert resources == {(PHOTO_COMPUTE, 1, True)} and group.rate_limiter.priority == 2, stage.name
    argv = server_argv(
        ServerOptions(Path("/m")), binary=Path("tritonserver"), backend_directory=Path("/b"), shm_prefix="x"
    )
    assert argv[-2:] == ["--rate-limit=execution_count", f"--rate-limit-resource={PHOTO_COMPUTE}:{PHOTO_COMPUTE_COUNT}"]
    assert PHOTO_COMPUTE_COUNT == 1 and CAMERA_X2.instances.rate_limiter is not None
    assert ESPCN_X2.dynamic_batching is not None and ESPCN_X2.dynamic_batching.queue_policy is not None
    assert ESPCN_X2.dynamic_batching.queue_policy.allow_timeout_override  # tiles carry the client's deadline


# --- (a) a bounded queue refuses fast, and what it lets in is finished ---------------------------------


@pytest.mark.served
def test_a_burst_beyond_the_gates_is_refused_fast_and_nothing_let_in_is_lost(small_server: TritonServer) -> None:
    """Catches: the gates' max_queue_size (decode, tiler) taken away, or a request let in then lost."""
    payload = photo(384)  # four tiles each
    burst = 128  # beyond decode's gate (32 waiting) and the tiler's (32 waiting) with batches running

    def one(_: int) -> tuple[str, float]:
        started = time.monotonic()
        try:
            result = client.enhance(payload, "upscale_x2_fast")
        except Overloaded:
            return "overloaded", time.monotonic() - started
        assert result.image.size == (768, 768)
        return "ok", time.monotonic() - started

    with LumaflowClient(small_server.endpoints.grpc_url, timeout=120) as client:
        client.enhance(payload, "upscale_x2_fast")
        with ThreadPoolExecutor(burst) as pool:
            outcomes = list(pool.map(one, range(burst)))
    ok = sorted(seconds for kind, seconds in outcomes if kind == "ok")
    refused = sorted(seconds for kind, seconds in outcomes if kind == "overloaded")
    print(f"\n{burst} at once: {len(ok)} served (median {statistics.median(ok):.2f} s), {len(refused)} refused", end="")
    if refused:
        print(f" (median {statistics.median(refused) * 1000:.0f} ms, max {refused[-1] * 1000:.0f} ms)")
    assert len(ok) + len(refused) == burst  # every request: served or refused, none lost or failed otherwise
    assert len(refused) >= burst // 4 and len(ok) >= 16  # the gates let in what they hold, no more
    # Refused before any network ran for it: a small part of what a served request takes.
    assert statistics.median(refused) < 0.2 * statistics.median(ok), (refused, ok)


# --- (b) a deadline shorter than the wait is answered where the request waits --------------------------


@pytest.mark.served
def test_a_deadline_shorter_than_the_queue_wait_is_answered_by_the_queue(small_server: TritonServer) -> None:
    """Catches: allow_timeout_override taken from the gates (the request would wait behind the big photo)."""
    url = small_server.endpoints.grpc_url
    big, small = photo(3584), photo(64)  # 12.8 MP: seconds of tiles (2560 px finished only 1.0 s after, once)
    with grpcclient.InferenceServerClient(url) as raw:
        raw.infer("upscale_x2_fast", photo_inputs(small, {}, None), client_timeout=60)
        finished: dict[str, float] = {}

        def occupy() -> None:
            raw.infer("upscale_x2_fast", photo_inputs(big, {"format": "jpeg"}, None), client_timeout=120)
            finished["big"] = time.monotonic()

        thread = threading.Thread(target=occupy)
        thread.start()
        time.sleep(1.5)  # the big photo's tiles hold the tiler; the next request waits in its queue
        started = time.monotonic()
        # The server is told a 0.5 s deadline; the client itself would wait 60 s for an answer.
        with pytest.raises(InferenceServerException) as caught:
            raw.infer("upscale_x2_fast", photo_inputs(small, {}, None), client_timeout=60, timeout=500_000)
        answered = time.monotonic()
        thread.join()
    print(
        f"\nanswered after {answered - started:.2f} s; the big photo finished {finished['big'] - answered:.2f} s later"
    )
    assert "request timeout expired" in caught.value.message().lower()
    assert answered - started < 2.0 and finished["big"] > answered + 1.0  # not after the photo ahead of it
    assert isinstance(from_triton(caught.value), DeadlineExceeded)


# --- (c) photo networks one at a time; camera stages never wait for them -------------------------------


def timed(call: Callable[[], Any]) -> Callable[[], float]:
    def run() -> float:
        call()
        return time.monotonic()

    return run


@pytest.mark.served
def test_photo_networks_take_turns_and_camera_frames_skip_the_line(small_server: TritonServer) -> None:
    """Catches: the photo networks' rate_limiter (or the server's --rate-limit) taken away, or a camera
    stage made to wait for photo_compute. Latency under a photo flood is too noisy on 2 shared cores
    to compare with and without; what the limiter does is exact: a second photo network waits while
    one runs, a camera frame does not."""
    url = small_server.endpoints.grpc_url
    # About 1 s in all on OpenVINO's int8, espcn_x2's graph since 2026-12-05, its 61 MB answer included (at 640 px,
    # 1.2 s in fp32 but 0.6 s in int8, too close to the 0.5 s asked below).
    side = 800
    big_photo = np.tile(astronaut(), (2, 2, 1))[:side, :side]
    tiles = np.ascontiguousarray(np.broadcast_to(big_photo, (8, side, side, 3)))
    crops = np.ascontiguousarray(astronaut()[None, None, :64, :64])  # one photo's crop set, of one crop
    frame = np.ascontiguousarray(astronaut()[None, :240, :320])

    def direct(model: str, pixels: np.ndarray, output: str, input_name: str = "PIXELS") -> Callable[[], Any]:
        def call() -> Any:
            tensor = grpcclient.InferInput(input_name, list(pixels.shape), "UINT8")
            tensor.set_data_from_numpy(pixels)
            with grpcclient.InferenceServerClient(url) as client:
                return client.infer(
                    model, [tensor], outputs=[grpcclient.InferRequestedOutput(output)], client_timeout=60
                )

        return call

    slow = direct("espcn_x2", tiles, "UPSCALED")
    quality = direct("quality", crops, "QUALITY", "CROPS")
    camera = direct("camera_sr_x2", frame, "UPSCALED")
    for warm in (slow, quality, camera):
        warm()
    with ThreadPoolExecutor(3) as pool:
        used_before = stub_cpu_seconds(small_server.pid, "espcn_x2")
        big = pool.submit(timed(slow))
        # The others go once espcn_x2 works on the big batch (so holds photo_compute): its 15 MB request can take
        # longer than any fixed sleep to arrive on a loaded machine (a CI run sent them 0.3 s after, too early).
        deadline = time.monotonic() + 30
        while stub_cpu_seconds(small_server.pid, "espcn_x2") - used_before < STARTED_CPU_S:
            assert not big.done() and time.monotonic() < deadline, "espcn_x2 never started on the big batch"
            time.sleep(0.005)
        sent = time.monotonic()
        small, frame_done = pool.submit(timed(quality)), pool.submit(timed(camera))
        ends = {"espcn_x2": big.result(), "quality": small.result(), "camera": frame_done.result()}
    print({name: round(end - sent, 2) for name, end in ends.items()})
    took = {name: end - sent for name, end in ends.items()}
    assert took["espcn_x2"] > 0.5  # the photo network was still running when the others came
    # The second photo network waited for its turn (alone it takes a few milliseconds; the big batch's
    # answer still travels after the network is done, up to a third of the slow call under load since int8:
    # 0.64 s against 0.97 s at 640 px in a CI run, so "after" is not to the millisecond).
    assert took["quality"] > 0.5 * took["espcn_x2"], took
    assert took["camera"] < 0.5 * took["espcn_x2"], took  # the camera frame did not wait


# --- (d) the client holds back ---------------------------------------------------------------------------


class CountingInfer:
    """Wraps an endpoint's ``infer`` and keeps the most calls it saw in flight at once."""

    def __init__(self, infer: Callable[..., Any]) -> None:
        self.infer = infer
        self.lock = threading.Lock()
        self.now = self.most = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            return self.infer(*args, **kwargs)
        finally:
            with self.lock:
                self.now -= 1


@pytest.mark.served
def test_the_client_keeps_at_most_max_in_flight_calls_and_sheds_the_rest_when_asked(
    small_server: TritonServer,
) -> None:
    """Catches: max_in_flight not enforced (waiting or shedding), a shed call that reached the server."""
    payload = photo(256)
    url = small_server.endpoints.grpc_url
    with LumaflowClient(url, max_in_flight=2, timeout=60) as client:
        endpoint = client.pool.endpoints[0]
        counting = CountingInfer(endpoint.client.infer)
        endpoint.client.infer = counting  # type: ignore[method-assign]
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: client.enhance(payload, "upscale_x2_fast"), range(8)))
    assert all(isinstance(result, EnhanceResult) for result in results) and counting.most == 2

    with LumaflowClient(url, max_in_flight=2, wait_when_full=False, timeout=60) as shedding:
        endpoint = shedding.pool.endpoints[0]
        counting = CountingInfer(endpoint.client.infer)
        endpoint.client.infer = counting  # type: ignore[method-assign]
        start = threading.Barrier(8)

        def one(_: int) -> tuple[str, float]:
            start.wait()
            started = time.monotonic()
            try:
                shedding.enhance(payload, "upscale_x2_fast")
            except Overloaded as error:
                assert error.reason == "client_full"
                return "shed", time.monotonic() - started
            return "ok", time.monotonic() - started

        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(one, range(8)))
    shed = [seconds for kind, seconds in outcomes if kind == "shed"]
    assert len(shed) >= 4 and len(outcomes) == 8 and counting.most <= 2
    assert max(shed) < 0.05  # at once, without a round trip

    async def waiting() -> tuple[int, float]:
        async with AsyncLumaflowClient(url, max_in_flight=1, timeout=60) as aio:
            endpoint = aio.pool.endpoints[0]
            infer = endpoint.client.infer
            state = {"now": 0, "most": 0}

            async def counted(*args: Any, **kwargs: Any) -> Any:
                state["now"] += 1
                state["most"] = max(state["most"], state["now"])
                try:
                    return await infer(*args, **kwargs)
                finally:
                    state["now"] -= 1

            endpoint.client.infer = counted  # type: ignore[method-assign]
            await asyncio.gather(*(aio.enhance(payload, "upscale_x2_fast") for _ in range(4)))
            holder = asyncio.ensure_future(aio.enhance(payload, "upscale_x2_fast"))
            await asyncio.sleep(0)  # the holder takes the one slot
            started = time.monotonic()
            with pytest.raises(DeadlineExceeded):  # its slot did not come within its deadline
                await aio.enhance(payload, "upscale_x2_fast", timeout=0.05)
            waited = time.monotonic() - started
            await holder
            return state["most"], waited

    most, waited = asyncio.run(waiting())
    assert most == 1 and 0.05 <= waited < 0.5
