"""CameraSession over Triton's streaming API against a real server: order kept, every frame accounted for."""

from __future__ import annotations

import time

import numpy as np
import pytest

from lumaflow.client import CameraSession, FrameResult, LumaflowClient, SessionStats
from lumaflow.client.cli import frame_source
from lumaflow.server.process import TritonServer

pytestmark = pytest.mark.served

FRAMES = 300
SIZE = (240, 320)


def run_session(
    url: str, fps: float, budget_s: float, frames: int = FRAMES, max_in_flight: int = 2
) -> tuple[list[FrameResult], SessionStats, dict[int, np.ndarray]]:
    source = frame_source("synthetic", SIZE)
    sent: dict[int, np.ndarray] = {}
    delivered: list[FrameResult] = []
    with CameraSession(url, "camera_x2", max_in_flight=max_in_flight, latency_budget_s=budget_s) as camera:
        started = time.monotonic()
        for number in range(frames):
            time.sleep(max(0.0, started + number / fps - time.monotonic()))
            frame = next(source)
            index = camera.submit(frame)
            if index is not None:
                sent[index] = frame
            delivered.extend(camera.results())
        delivered.extend(camera.drain(timeout_s=10))
        stats = camera.stats()
    return delivered, stats, sent


def test_300_frames_come_back_in_order_and_every_drop_is_counted(server: TritonServer) -> None:
    delivered, stats, sent = run_session(server.endpoints.grpc_url, fps=15.0, budget_s=1.0)
    indices = [result.index for result in delivered]
    assert indices == sorted(set(indices))  # frame order, no duplicates
    assert stats.submitted == FRAMES and stats.in_flight == 0
    assert stats.delivered == len(delivered)
    assert stats.delivered + sum(stats.dropped.values()) == FRAMES
    assert set(stats.dropped) <= {"backlog", "late", "error"} and not stats.last_error
    assert stats.delivered >= 0.9 * FRAMES, stats.line()  # 15 fps offered: half of what 2 cores sustain
    assert stats.latency_p99_ms <= stats.slowest_answer_ms < 1000.0
    assert all(result.frame.shape == (480, 640, 3) and result.frame.dtype == np.uint8 for result in delivered)
    middle = delivered[len(delivered) // 2]
    with LumaflowClient(server.endpoints.grpc_url) as client:
        plain = client.enhance_frame(sent[middle.index], "camera_x2")
    assert int(np.abs(plain.astype(np.int16) - middle.frame.astype(np.int16)).max()) <= 1
    print(f"\ncamera_x2 at 15 fps offered: {stats.line()}")


def test_results_older_than_the_budget_are_dropped_as_late(server: TritonServer) -> None:
    delivered, stats, _ = run_session(server.endpoints.grpc_url, fps=30.0, budget_s=0.001, frames=30)
    assert stats.dropped.get("late", 0) >= 25 and len(delivered) == stats.delivered
    assert stats.slowest_answer_ms > 1.0  # late frames were still answered, and timed
    assert stats.delivered + sum(stats.dropped.values()) == 30


def test_a_local_session_moves_frames_through_shared_memory_and_cleans_up(server: TritonServer) -> None:
    import tritonclient.grpc as grpcclient

    url = server.endpoints.grpc_url
    source = frame_source("synthetic", SIZE)
    frames = [next(source) for _ in range(6)]
    outputs: dict[bool, list[np.ndarray]] = {}
    with grpcclient.InferenceServerClient(url) as admin:
        for shared in (False, True):
            delivered: list[FrameResult] = []
            with CameraSession(url, "camera_x2", latency_budget_s=5.0, max_in_flight=1, shared_memory=shared) as camera:
                for frame in frames:  # one at a time: every frame delivered
                    camera.submit(frame)
                    delivered.extend(camera.drain(timeout_s=10))
                regions = admin.get_system_shared_memory_status(as_json=True).get("regions", {})
                assert bool(regions) is shared  # after the first frame (by gRPC) the rest went by shared memory
            assert not admin.get_system_shared_memory_status(as_json=True).get("regions")  # unregistered
            outputs[shared] = [result.frame for result in delivered]
    assert len(outputs[True]) == len(outputs[False]) == len(frames)
    for plain, shared_frame in zip(outputs[False], outputs[True], strict=True):
        assert shared_frame.shape == (480, 640, 3)
        assert int(np.abs(plain.astype(np.int16) - shared_frame.astype(np.int16)).max()) <= 1
    assert CameraSession("127.0.0.1:1").shared_memory and not CameraSession("10.0.0.7:8001").shared_memory
