"""``lumaflow loadtest camera``: N simulated cameras through the client's camera sessions.

Each camera is a ``CameraSession`` on its own thread, offering frames on its own clock at ``fps``
(a camera does not wait for the server). N grows 1, 2, 3, ... until a level fails to hold; the
report names the largest N that held. A level holds when every camera delivered at least
``HOLD_FRACTION`` of the offered rate, the worst camera's p99 latency is within the budget, and
under 1 % of its frames were dropped (late, backlog or error).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import astuple, dataclass
from pathlib import Path

import grpc
import tritonclient.grpc as grpcclient

from lumaflow.client.camera import CameraSession, SessionStats, stream
from lumaflow.client.cli import frame_source
from lumaflow.loadtest.report import LoadPoint, LoadReport, stage_times
from lumaflow.loadtest.stats import statistics_snapshot

HOLD_FRACTION = 0.95
MAX_DROP_FRACTION = 0.01


def cameras_at_once(
    url: str,
    pipeline: str,
    streams: int,
    fps: float,
    seconds: float,
    size: tuple[int, int],
    budget_s: float,
    shared_memory: bool | None,
) -> list[SessionStats]:
    """Run ``streams`` cameras together for ``seconds``; each one's session figures."""
    results: list[SessionStats | None] = [None] * streams
    failures: list[BaseException] = []
    count = max(1, round(fps * seconds))
    start = threading.Barrier(streams)

    def camera(index: int) -> None:
        try:
            frames = frame_source("synthetic", (size[1], size[0]))
            for _ in range(index * 7):  # cameras see different frames
                next(frames)
            with CameraSession(url, pipeline, latency_budget_s=budget_s, shared_memory=shared_memory) as session:
                start.wait()
                results[index] = stream(session, frames, count, fps)
        except (threading.BrokenBarrierError, grpc.RpcError, OSError, RuntimeError) as error:
            failures.append(error)
            start.abort()

    threads = [threading.Thread(target=camera, args=(index,), daemon=True) for index in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds * 3 + 30)
    if failures or any(result is None for result in results):
        raise RuntimeError(f"{streams} cameras: a session failed: {failures[0] if failures else 'timed out'}")
    return [result for result in results if result is not None]


def level_point(streams: int, fps: float, seconds: float, sessions: list[SessionStats], budget_s: float) -> LoadPoint:
    drops: Counter[str] = Counter()
    for session in sessions:
        drops.update(session.dropped)
    delivered = sum(session.delivered for session in sessions)
    submitted = sum(session.submitted for session in sessions)
    worst_fps = min(session.session_fps_out for session in sessions)
    worst_p99 = max(session.latency_p99_ms for session in sessions)
    drop_fraction = (submitted - delivered) / submitted if submitted else 1.0
    held = worst_fps >= HOLD_FRACTION * fps and worst_p99 <= budget_s * 1e3 and drop_fraction < MAX_DROP_FRACTION
    return LoadPoint(
        level=streams,
        sent=submitted,
        succeeded=delivered,
        failed=dict(drops),
        seconds=seconds,
        throughput_per_s=sum(session.session_fps_out for session in sessions),
        p50_ms=max(session.latency_p50_ms for session in sessions),
        p90_ms=float("nan"),  # a session keeps p50 and p99
        p99_ms=worst_p99,
        extra={
            "held": held,
            "worst_camera_fps": round(worst_fps, 2),
            "drop_fraction": round(drop_fraction, 4),
            "per_camera_fps": [round(session.session_fps_out, 2) for session in sessions],
            "slowest_answer_ms": round(max(session.slowest_answer_ms for session in sessions), 1),
        },
    )


@dataclass(frozen=True)
class CameraLoad:
    """What ``lumaflow loadtest camera`` offers: cameras of ``size`` at ``fps``, 1 to ``max_streams`` of them,
    ``seconds`` per level, held when p99 stays within ``budget_ms``; frames by shared memory or gRPC."""

    fps: float = 30.0
    seconds: float = 10.0
    max_streams: int = 8
    size: tuple[int, int] = (320, 240)
    budget_ms: float = 100.0
    transport: str = "auto"  # auto, shm or grpc
    min_streams: int = 1  # the first level tried (2: straight to two cameras)


def run(url: str, pipeline: str, out: Path, load: CameraLoad = CameraLoad()) -> LoadReport:
    """1, 2, ... cameras at once until a level does not hold; report.json, report.md and plots in ``out``."""
    fps, seconds, max_streams, size, budget_ms, transport, min_streams = astuple(load)
    if not 1 <= min_streams <= max_streams:
        raise ValueError(f"--min-streams must lie within 1 to --max-streams ({max_streams}), got {min_streams}")
    shared = {"auto": None, "shm": True, "grpc": False}[transport]
    report = LoadReport(
        command="lumaflow loadtest camera",
        pipeline=pipeline,
        level_name="cameras",
        unit="frames",
        settings={
            "url": url,
            "fps per camera": fps,
            "frame": f"{size[0]}x{size[1]}",
            "seconds per level": seconds,
            "latency budget ms": budget_ms,
            "transport": transport,
            "holds when": f"every camera >= {HOLD_FRACTION:.0%} of fps, p99 <= budget, drops < {MAX_DROP_FRACTION:.0%}",
        },
    )
    stats_client = grpcclient.InferenceServerClient(url)
    before = statistics_snapshot(stats_client)
    largest_held = 0
    for streams in range(min_streams, max_streams + 1):
        sessions = cameras_at_once(url, pipeline, streams, fps, seconds, size, budget_ms / 1e3, shared)
        measured = level_point(streams, fps, seconds, sessions, budget_ms / 1e3)
        report.points.append(measured)
        print(
            f"{streams} camera(s): worst {measured.extra['worst_camera_fps']:.1f} fps, p99 {measured.p99_ms:.1f} ms, "
            f"slowest answer {measured.extra['slowest_answer_ms']:.0f} ms, "
            f"dropped {measured.extra['drop_fraction']:.1%} {dict(measured.failed)}: "
            f"{'held' if measured.extra['held'] else 'NOT held'}",
            flush=True,
        )
        if not measured.extra["held"]:
            break
        largest_held = streams
        time.sleep(0.5)  # let the last level's frames leave the server's queues
    report.stages = stage_times(before, statistics_snapshot(stats_client))
    stats_client.close()
    report.settings["largest number of cameras held"] = largest_held
    report.notes.append(
        f"largest number of cameras held at {fps:g} fps with p99 <= {budget_ms:g} ms: {largest_held}"
        + (f" (stopped at {max_streams}, the most asked for)" if largest_held == max_streams else "")
    )
    report.write(out)
    return report
