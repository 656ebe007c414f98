"""``lumaflow loadtest inflight``: a fixed number of frames always in flight, through plain tritonclient.

This is the outside check of issue 26 as a command: no camera session, no adaptive window, no dropping. A
frame is sent again the moment one comes back, so the server is never idle and never flooded, and every
frame's latency counts, the slowest included. Stalls show as the ``slowest_ms`` column and as ``stalls``:
frames that took longer than ``stall_ms``, with when they were sent, so a periodic stall (a timer, a health
check) can be told from a random one. Each window is one load point; several windows of the same setting
show the run-to-run spread on a shared machine.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tritonclient.grpc as grpcclient

from lumaflow.client.cli import frame_source
from lumaflow.client.protocol import FRAME_OUTPUT, frame_inputs
from lumaflow.loadtest.report import LoadReport, point, stage_times
from lumaflow.loadtest.stats import statistics_snapshot

WARMUP_FRAMES = 5
FRAMES_KEPT = 16  # distinct frames cycled through, so no two neighbours are the same


@dataclass(frozen=True)
class InFlightLoad:
    """``in_flight`` frames of ``size`` (width, height) kept on the wire for ``seconds``, ``windows`` times."""

    in_flight: int = 4
    seconds: float = 10.0
    windows: int = 1
    size: tuple[int, int] = (320, 240)
    stall_ms: float = 250.0


class _Window:
    """One measured window: sends, re-sends on each answer until the window closes, and records every answer."""

    def __init__(self, client: grpcclient.InferenceServerClient, pipeline: str, frames: list[np.ndarray]) -> None:
        self.client, self.pipeline, self.frames = client, pipeline, frames
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.answers: list[tuple[float, float]] = []  # (sent at, seconds to answer)
        self.errors: dict[str, int] = {}
        self.sent = 0
        self.open = 0
        self.stop_at = 0.0

    def _send(self) -> None:
        with self.lock:
            frame = self.frames[self.sent % len(self.frames)]
            self.sent += 1
        sent_at = time.monotonic()

        def answered(result: object, error: object) -> None:  # tritonclient passes both by keyword
            now = time.monotonic()
            with self.lock:
                if error is None:
                    self.answers.append((sent_at, now - sent_at))
                else:
                    reason = type(error).__name__
                    self.errors[reason] = self.errors.get(reason, 0) + 1
            if now < self.stop_at:
                self._send()
                return
            with self.lock:
                self.open -= 1
                if self.open == 0:
                    self.done.set()

        outputs = [grpcclient.InferRequestedOutput(FRAME_OUTPUT)]
        self.client.async_infer(self.pipeline, frame_inputs(frame), answered, outputs=outputs)

    def run(self, in_flight: int, seconds: float) -> float:
        """Keep ``in_flight`` frames on the wire for ``seconds``; the seconds until the last answer came."""
        start = time.monotonic()
        self.stop_at, self.open = start + seconds, in_flight
        for _ in range(in_flight):
            self._send()
        if not self.done.wait(seconds + 60):
            raise RuntimeError(f"{self.open} of {in_flight} frames unanswered a minute after the window closed")
        return time.monotonic() - start


def run(url: str, pipeline: str, out: Path, load: InFlightLoad = InFlightLoad()) -> LoadReport:
    """``load.windows`` windows of ``load.in_flight`` frames in flight; report.json, report.md and plots in ``out``."""
    if load.in_flight < 1 or load.windows < 1 or load.seconds <= 0:
        raise ValueError("--in-flight and --windows must be at least 1 and --seconds above 0")
    width, height = load.size
    source = frame_source("synthetic", (height, width))
    frames = [next(source) for _ in range(FRAMES_KEPT)]
    report = LoadReport(
        command="lumaflow loadtest inflight",
        pipeline=pipeline,
        level_name="window",
        unit="frames",
        settings={
            "url": url,
            "frames in flight": load.in_flight,
            "frame": f"{width}x{height}",
            "seconds per window": load.seconds,
            "a stall": f"an answer slower than {load.stall_ms:g} ms",
        },
    )
    client = grpcclient.InferenceServerClient(url)
    for frame in frames[:WARMUP_FRAMES]:
        client.infer(pipeline, frame_inputs(frame), outputs=[grpcclient.InferRequestedOutput(FRAME_OUTPUT)])
    before = statistics_snapshot(client)
    for number in range(1, load.windows + 1):
        window = _Window(client, pipeline, frames)
        elapsed = window.run(load.in_flight, load.seconds)
        start = min((sent_at for sent_at, _ in window.answers), default=0.0)
        latencies = [seconds for _, seconds in window.answers]
        slow = [(sent_at, seconds) for sent_at, seconds in window.answers if seconds * 1e3 > load.stall_ms]
        stalls = [[round(sent_at - start, 2), round(seconds * 1e3)] for sent_at, seconds in slow]
        measured = point(
            number,
            latencies,
            window.errors,
            elapsed,
            slowest_ms=round(max(latencies, default=0.0) * 1e3, 1),
            stalls=len(stalls),
            stalled_frames_at_s_ms=stalls[:50],
        )
        report.points.append(measured)
        print(
            f"window {number}: {measured.throughput_per_s:.1f} frames/s, p50 {measured.p50_ms:.1f} ms, "
            f"p99 {measured.p99_ms:.1f} ms, slowest {measured.extra['slowest_ms']:.0f} ms, "
            f"{len(stalls)} answers over {load.stall_ms:g} ms, errors {sum(window.errors.values())}",
            flush=True,
        )
    report.stages = stage_times(before, statistics_snapshot(client))
    client.close()
    fps = sorted(p.throughput_per_s for p in report.points)
    p99 = sorted(p.p99_ms for p in report.points)
    report.notes.append(
        f"{load.in_flight} frames in flight, {len(fps)} window(s) of {load.seconds:g} s: "
        f"median {fps[len(fps) // 2]:.1f} frames/s, median p99 {p99[len(p99) // 2]:.1f} ms, slowest answer "
        f"{max(p.extra['slowest_ms'] for p in report.points):.0f} ms"
    )
    report.write(out)
    return report
