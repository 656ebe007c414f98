"""``lumaflow loadtest photos``: mixed real photos, open loop (Poisson arrivals) or closed loop (N clients).

Open loop is how a public service is loaded: requests arrive at a rate whatever the server's state,
so a slow server builds a queue and the latency shows it (a closed loop hides that by slowing its
own clients down: coordinated omission). Closed loop measures the most the server sustains with N
callers. Every request's outcome is counted: succeeded, or failed by its gRPC status and lumaflow
reason code; requests still unanswered at the end of the drain are counted as ``unanswered``.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tritonclient.grpc as grpcclient
from PIL import Image
from tritonclient.utils import InferenceServerException

from lumaflow.client.protocol import photo_inputs as request_inputs
from lumaflow.loadtest.report import LoadPoint, LoadReport, point, stage_times
from lumaflow.loadtest.stats import statistics_snapshot

REASON = re.compile(r"\[([a-z_]+)\]")
PHOTO_SIDES = (256, 384, 512)  # mixed sizes: each photo is sent at one of these long sides


@dataclass(frozen=True)
class Request:
    name: str
    payload: bytes


def mixed_photos(sides: Sequence[int] = PHOTO_SIDES) -> list[Request]:
    """Real photos (scikit-image's four) as JPEG at several sizes: the mix a photo service sees."""
    from skimage import data

    requests = []
    for index, name in enumerate(("astronaut", "coffee", "chelsea", "rocket")):
        image = Image.fromarray(getattr(data, name)())
        side = sides[index % len(sides)]
        scale = side / max(image.size)
        resized = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
        buffer = io.BytesIO()
        resized.save(buffer, format="JPEG", quality=90)
        requests.append(Request(f"{name}@{side}", buffer.getvalue()))
    return requests


def failure_reason(error: BaseException) -> str:
    """A short class for a failed request: the lumaflow reason code if the message has one, else the status."""
    message = str(error)
    found = REASON.search(message)
    if found:
        return found.group(1)
    if isinstance(error, InferenceServerException) and error.status():
        return str(error.status()).replace("StatusCode.", "").lower()
    return type(error).__name__


class InFlight:
    """Requests sent asynchronously and not yet answered; each answer recorded from a gRPC callback thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outstanding = 0
        self.settled = threading.Condition(self.lock)

    def sent(self) -> None:
        with self.lock:
            self.outstanding += 1

    def done(self, started: float, error: BaseException | None) -> None:
        elapsed = time.monotonic() - started
        with self.lock:
            self.record(elapsed, error)
            self.outstanding -= 1
            self.settled.notify_all()

    def record(self, elapsed: float, error: BaseException | None) -> None:
        """Keep one answer (called with the lock held)."""
        raise NotImplementedError

    def drain(self, timeout_s: float) -> int:
        """Wait for the answers still due; return how many never came."""
        deadline = time.monotonic() + timeout_s
        with self.lock:
            while self.outstanding and time.monotonic() < deadline:
                self.settled.wait(deadline - time.monotonic())
            return self.outstanding


class _Tally(InFlight):
    """Latencies of successes and failures by reason."""

    def __init__(self) -> None:
        super().__init__()
        self.latencies: list[float] = []
        self.failed: Counter[str] = Counter()

    def record(self, elapsed: float, error: BaseException | None) -> None:
        if error is None:
            self.latencies.append(elapsed)
        else:
            self.failed[failure_reason(error)] += 1

    def drain(self, timeout_s: float) -> int:
        unanswered = super().drain(timeout_s)
        if unanswered:
            with self.lock:
                self.failed["unanswered"] += unanswered
                self.outstanding = 0
        return unanswered


@dataclass(frozen=True)
class Arrivals:
    """An open loop's schedule: Poisson arrivals at ``rate`` per second for ``seconds``."""

    rate: float
    seconds: float
    timeout_s: float
    rng: np.random.Generator

    def send(
        self,
        client: grpcclient.InferenceServerClient,
        pipeline: str,
        prepared: Sequence[list[grpcclient.InferInput]],
        sent: Callable[[], None],
        done: Callable[[float, InferenceServerException | None], None],
    ) -> int:
        """Send ``prepared`` round-robin, none waiting for another; return how many were sent.

        The deadline goes to the server too (as ``LumaflowClient`` sends it), so its queues honour it.
        """
        started = due = time.monotonic()
        number = 0
        while True:
            due += float(self.rng.exponential(1.0 / self.rate))
            if due - started >= self.seconds:
                return number
            time.sleep(max(0.0, due - time.monotonic()))
            sent_at = time.monotonic()
            sent()
            client.async_infer(
                pipeline,
                prepared[number % len(prepared)],
                callback=lambda result, error, sent_at=sent_at: done(sent_at, error),
                client_timeout=self.timeout_s,
                timeout=int(self.timeout_s * 1e6),
            )
            number += 1


def open_loop(
    url: str,
    pipeline: str,
    rate: float,
    seconds: float,
    requests: Sequence[Request],
    options: str,
    timeout_s: float,
    seed: int = 0,
) -> LoadPoint:
    """Poisson arrivals at ``rate`` per second for ``seconds``; each request asynchronous, none waits for another."""
    tally = _Tally()
    client = grpcclient.InferenceServerClient(url)
    started = time.monotonic()
    arrivals = Arrivals(rate, seconds, timeout_s, np.random.default_rng(seed))
    number = arrivals.send(client, pipeline, photo_inputs(requests, options)(), tally.sent, tally.done)
    tally.drain(timeout_s)
    elapsed = time.monotonic() - started
    client.close()
    return point(rate, tally.latencies, tally.failed, elapsed, offered=number)


def closed_loop(
    url: str,
    pipeline: str,
    clients: int,
    seconds: float,
    make_inputs: Callable[[], list[list[grpcclient.InferInput]]],
    timeout_s: float,
) -> LoadPoint:
    """``clients`` callers, each sending its next request when the last one is answered, for ``seconds``.

    ``make_inputs`` gives each caller its own request tensors (photos or frames), sent in turn."""
    tally = _Tally()
    stop_at = time.monotonic() + seconds

    def caller(offset: int) -> None:
        client = grpcclient.InferenceServerClient(url)
        prepared = make_inputs()
        number = offset
        while time.monotonic() < stop_at:
            sent_at = time.monotonic()
            tally.sent()
            try:
                client.infer(pipeline, prepared[number % len(prepared)], client_timeout=timeout_s)
            except Exception as error:  # every failure is counted, by its reason
                tally.done(sent_at, error)
            else:
                tally.done(sent_at, None)
            number += 1
        client.close()

    started = time.monotonic()
    threads = [threading.Thread(target=caller, args=(index,), daemon=True) for index in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + timeout_s + 5)
    return point(clients, tally.latencies, tally.failed, time.monotonic() - started)


def photo_inputs(requests: Sequence[Request], options: str) -> Callable[[], list[list[grpcclient.InferInput]]]:
    """Each request's tensors (IMAGE, OPTIONS), made afresh for each caller: InferInputs are not shared."""
    parsed = json.loads(options)
    return lambda: [request_inputs(request.payload, parsed) for request in requests]


def run(
    url: str,
    pipeline: str,
    out: Path,
    *,
    rates: Sequence[float] = (),
    clients: Sequence[int] = (),
    seconds: float = 20.0,
    sides: Sequence[int] = PHOTO_SIDES,
    options: str = '{"format": "jpeg"}',
    timeout_s: float = 30.0,
) -> LoadReport:
    if bool(rates) == bool(clients):
        raise ValueError("give either arrival rates (open loop) or client counts (closed loop)")
    requests = mixed_photos(sides)
    json.loads(options)  # a malformed OPTIONS would fail every request: say so before the run
    open_mode = bool(rates)
    report = LoadReport(
        command="lumaflow loadtest photos",
        pipeline=pipeline,
        level_name="offered rate (/s)" if open_mode else "clients",
        unit="requests",
        settings={
            "url": url,
            "mode": "open loop, Poisson arrivals" if open_mode else "closed loop",
            "seconds per level": seconds,
            "photos": ", ".join(request.name for request in requests),
            "options": options,
            "timeout_s": timeout_s,
        },
    )
    stats_client = grpcclient.InferenceServerClient(url)
    before = statistics_snapshot(stats_client)
    for level in rates or clients:
        if open_mode:
            measured = open_loop(url, pipeline, float(level), seconds, requests, options, timeout_s)
        else:
            measured = closed_loop(url, pipeline, int(level), seconds, photo_inputs(requests, options), timeout_s)
        report.points.append(measured)
        failed = sum(measured.failed.values())
        print(
            f"{report.level_name} {level:g}: {measured.throughput_per_s:7.2f}/s  p50 {measured.p50_ms:7.1f} ms  "
            f"p99 {measured.p99_ms:7.1f} ms  failed {failed}/{measured.sent}",
            flush=True,
        )
    report.stages = stage_times(before, statistics_snapshot(stats_client))
    stats_client.close()
    report.write(out)
    return report
