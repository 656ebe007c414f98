"""``CameraSession``: one camera's frames over one bidirectional gRPC stream, in order, never lagging.

    with CameraSession("localhost:8001", "camera_x2", latency_budget_s=0.1) as camera:
        for frame in frames:
            camera.submit(frame)              # never blocks: a frame that cannot go is dropped, counted
            for result in camera.results():   # what is ready, in frame order
                show(result.frame)
        print(camera.stats())

Frames go out on Triton's streaming API (one stream per camera) and come back through its callback
in whatever order the server finished them; the session hands them on in frame order. It keeps at
most ``max_in_flight`` frames on the wire; a new frame beyond that is dropped at once ("backlog")
rather than queued, because a queued frame only gets older; the window shrinks when frames come back
late and grows back when they are comfortably on time. A frame whose result is older than the
latency budget when its turn comes is dropped too ("late"), and so is one the server failed
("error", with the message kept). Nothing is dropped silently: ``stats()`` counts every frame.

With a server on this machine (a loopback URL, or ``shared_memory=True``) frames travel through
system shared memory (``lumaflow.client.shm``) once the first frame's result has shown the output
shape: only region names go over the stream. Frames of another shape than the first go over gRPC.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from .errors import from_triton
from .policy import AUTH_HEADER
from .protocol import FRAME_INPUT, FRAME_OUTPUT, frame_inputs
from .shm import FrameSlots, is_local

RATE_WINDOW_S = 2.0  # fps is measured over the last two seconds
SENT_AT_KEPT = 1024  # send times kept for frames not yet answered (a session has at most a few in flight)


@dataclass(frozen=True)
class FrameResult:
    index: int  # the frame's number in this session, from 0, in the order submitted
    frame: np.ndarray  # the enhanced frame, uint8 HxWx3
    latency_s: float  # submit to result


@dataclass(frozen=True)
class SessionStats:
    submitted: int
    delivered: int
    in_flight: int
    dropped: dict[str, int]  # by reason: backlog, late, error
    fps_in: float
    fps_out: float
    latency_p50_ms: float
    latency_p99_ms: float
    session_fps_out: float  # delivered frames over the session's span, first submit to the last submit or delivery
    last_error: str = ""
    # The longest the server took to answer a frame, delivered or late: a stall shows here even when the
    # frames it held were dropped as late and never reached the latency percentiles.
    slowest_answer_ms: float = 0.0

    def line(self) -> str:
        drops = ", ".join(f"{reason} {count}" for reason, count in sorted(self.dropped.items())) or "none"
        return (
            f"in {self.fps_in:5.1f} fps  out {self.fps_out:5.1f} fps  p50 {self.latency_p50_ms:6.1f} ms  "
            f"p99 {self.latency_p99_ms:6.1f} ms  delivered {self.delivered}/{self.submitted}  dropped: {drops}"
        )


@dataclass
class _Pending:
    sent_at: float
    shape: tuple[int, ...]
    result: np.ndarray | None = None
    error: str = ""
    arrived_at: float = 0.0
    done: bool = False


@dataclass
class _Counters:
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    submitted_at: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    delivered_at: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    dropped: Counter[str] = field(default_factory=Counter)
    delivered: int = 0
    submitted: int = 0
    first_submit: float = 0.0
    last_activity: float = 0.0
    last_error: str = ""
    slowest_answer_s: float = 0.0


class CameraSession:
    """One camera: frames in, enhanced frames out in order, within a latency budget."""

    def __init__(
        self,
        url: str,
        pipeline: str = "camera_x2",
        *,
        token: str | None = None,
        max_in_flight: int = 2,
        latency_budget_s: float = 0.1,
        shared_memory: bool | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.url = url
        self.pipeline = pipeline
        self.max_in_flight = max_in_flight
        self.latency_budget_s = latency_budget_s
        self._headers = {AUTH_HEADER: token} if token else None
        self._client: grpcclient.InferenceServerClient | None = None
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._pending: dict[int, _Pending] = {}
        # The frames allowed on the wire now: halved when a frame comes back late, grown by one per frame
        # delivered within half the budget. A fixed window wider than the server keeps up with makes
        # every frame wait behind the others and arrive late (measured: 3 in flight at 30 fps -> 0 delivered).
        self.window = float(max_in_flight)
        self._next_index = 0  # the next frame number to hand out
        self._next_out = 0  # the next frame number to deliver or drop
        self._ready: deque[FrameResult] = deque()
        self._counters = _Counters()
        self.shared_memory = is_local(url) if shared_memory is None else shared_memory
        self._slots: FrameSlots | None = None
        self._shapes: tuple[tuple[int, ...], tuple[int, ...]] | None = None  # (in, out) of the first frame
        self._slot_of: dict[int, int] = {}  # frame number -> its shared-memory slot, while in flight
        self._sent_at: dict[int, float] = {}  # frame number -> when it was sent, until the server answers

    # --- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> CameraSession:
        self._client = grpcclient.InferenceServerClient(self.url)
        self._client.start_stream(callback=self._on_response, headers=self._headers)
        return self

    def close(self) -> None:
        if self._client is not None:
            self._client.stop_stream(cancel_requests=True)
            if self._slots is not None:
                self._slots.close()
                self._slots = None
            self._client.close()
            self._client = None

    def __enter__(self) -> CameraSession:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- frames ---------------------------------------------------------------------------------------

    def submit(self, frame: np.ndarray) -> int | None:
        """Send ``frame`` (uint8 HxWx3); its number, or None when it was dropped for the backlog."""
        if self._client is None:
            raise RuntimeError("start the session first (use it as a context manager)")
        inputs, outputs = frame_inputs(frame), None
        if self.shared_memory and self._slots is None and self._shapes is not None:
            self._slots = FrameSlots(
                self._client, FRAME_INPUT, FRAME_OUTPUT, *self._shapes, 2 * self.max_in_flight, self._headers
            )
        now = time.monotonic()
        with self._lock:
            self._counters.submitted += 1
            self._counters.submitted_at.append(now)
            self._counters.first_submit = self._counters.first_submit or now
            self._counters.last_activity = now
            self._settle(now)
            if len(self._pending) >= int(self.window):
                self._counters.dropped["backlog"] += 1
                return None
            index = self._next_index
            self._next_index += 1
            self._pending[index] = _Pending(sent_at=now, shape=frame.shape)
            self._sent_at[index] = now
            if len(self._sent_at) > SENT_AT_KEPT:  # answers that never came (errors without a request id)
                del self._sent_at[next(iter(self._sent_at))]
            slots = self._slots
            slot = slots.acquire() if slots is not None and (1, *frame.shape) == slots.in_shape else None
            if slots is not None and slot is not None:
                inputs, outputs = slots.request(slot, frame)
                self._slot_of[index] = slot
        self._client.async_stream_infer(self.pipeline, inputs, outputs=outputs, request_id=str(index))
        return index

    def _on_response(self, result: Any, error: InferenceServerException | None) -> None:
        now = time.monotonic()
        with self._lock:
            if error is not None:
                index = int(error.request_id()) if hasattr(error, "request_id") and error.request_id() else -1
                message = str(from_triton(error))
            else:
                index = int(result.get_response().id)
                message = ""
            pending = self._pending.get(index)
            slot = self._slot_of.pop(index, None)
            sent_at = self._sent_at.pop(index, None)
            if sent_at is not None:
                self._counters.slowest_answer_s = max(self._counters.slowest_answer_s, now - sent_at)
            if pending is None:  # already declared late, or an error without a request id
                if slot is not None and self._slots is not None:
                    self._slots.free.append(slot)
                if message:
                    self._counters.last_error = message
                return
            pending.done, pending.arrived_at = True, now
            if message:
                pending.error = message
                if slot is not None and self._slots is not None:
                    self._slots.free.append(slot)
            elif slot is not None and self._slots is not None:
                shape = tuple(int(d) for d in result.get_output(FRAME_OUTPUT).shape)
                pending.result = self._slots.read(slot, shape)[0]
            else:
                pending.result = np.asarray(result.as_numpy(FRAME_OUTPUT)[0])
                if self._shapes is None:  # the output shape is known now: shared memory can be sized
                    self._shapes = ((1, *pending.shape), (1, *pending.result.shape))
            self._settle(now)
            self._arrived.notify_all()

    def _settle(self, now: float) -> None:
        """Deliver or drop, in frame order, every frame whose fate is known (lock held)."""
        while self._next_out < self._next_index:
            pending = self._pending.get(self._next_out)
            if pending is None:
                self._next_out += 1
                continue
            overdue = now - pending.sent_at > self.latency_budget_s
            if not pending.done and not overdue:
                return  # wait for it: later frames stay behind it
            del self._pending[self._next_out]
            latency = (pending.arrived_at if pending.done else now) - pending.sent_at
            if pending.error:
                self._counters.dropped["error"] += 1
                self._counters.last_error = pending.error
            elif pending.result is None or latency > self.latency_budget_s:
                self._counters.dropped["late"] += 1
                self.window = max(1.0, self.window / 2)
            else:
                if latency < self.latency_budget_s / 2:
                    self.window = min(float(self.max_in_flight), self.window + 1 / max(1.0, self.window))
                self._ready.append(FrameResult(self._next_out, pending.result, latency))
                self._counters.delivered += 1
                self._counters.delivered_at.append(now)
                self._counters.last_activity = now
                self._counters.latencies.append(latency)
            self._next_out += 1

    def results(self, wait_s: float = 0.0) -> Iterator[FrameResult]:
        """The results ready now, in frame order (waiting up to ``wait_s`` for the first)."""
        with self._lock:
            self._settle(time.monotonic())
            if not self._ready and wait_s > 0:
                self._arrived.wait(wait_s)
                self._settle(time.monotonic())
            ready, self._ready = list(self._ready), deque()
        yield from ready

    def drain(self, timeout_s: float = 5.0) -> list[FrameResult]:
        """Wait until no frame is in flight (each delivered or dropped); return what was delivered."""
        collected: list[FrameResult] = []
        stop_at = time.monotonic() + timeout_s
        while time.monotonic() < stop_at:
            collected.extend(self.results(wait_s=0.05))
            with self._lock:
                if not self._pending:
                    break
        collected.extend(self.results())
        return collected

    def stats(self) -> SessionStats:
        now = time.monotonic()
        with self._lock:
            self._settle(now)
            counters = self._counters
            latencies = sorted(counters.latencies)

            def rate(stamps: deque[float]) -> float:
                recent = [stamp for stamp in stamps if now - stamp <= RATE_WINDOW_S]
                return len(recent) / RATE_WINDOW_S

            return SessionStats(
                submitted=counters.submitted,
                delivered=counters.delivered,
                in_flight=len(self._pending),
                dropped=dict(counters.dropped),
                fps_in=rate(counters.submitted_at),
                fps_out=rate(counters.delivered_at),
                latency_p50_ms=statistics.median(latencies) * 1e3 if latencies else 0.0,
                latency_p99_ms=latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1e3
                if latencies
                else 0.0,
                session_fps_out=counters.delivered / span
                if (span := counters.last_activity - counters.first_submit) > 0
                else 0.0,
                last_error=counters.last_error,
                slowest_answer_ms=counters.slowest_answer_s * 1e3,
            )


def stream(
    camera: CameraSession,
    frames: Iterator[np.ndarray],
    count: int,
    fps: float,
    *,
    progress: Callable[[SessionStats], None] | None = None,
) -> SessionStats:
    """Offer ``count`` frames at ``fps`` on the camera's own clock (late frames are not sent faster to catch
    up), take results as they come, wait for the last ones, and return the session's figures."""
    interval = 1.0 / fps
    started = time.monotonic()
    last_progress = started
    for number in range(count):
        due = started + number * interval
        time.sleep(max(0.0, due - time.monotonic()))
        camera.submit(next(frames))
        for _ in camera.results():
            pass
        if progress is not None and time.monotonic() - last_progress >= 1.0:
            progress(camera.stats())
            last_progress = time.monotonic()
    camera.drain()
    return camera.stats()
