"""``lumaflow loadtest overload``: offer a multiple of what the server sustains and account for every request.

First a short closed loop measures the sustainable rate of ``pipeline`` with real photos; then Poisson
arrivals at ``factor`` times that rate run for ``seconds``. Each request ends one way: served (its latency
kept), refused with ``Overloaded`` (how fast, kept), or another typed error, counted by its
``lumaflow.client`` class; ``sent == served + overloaded + other failures`` is checked, so nothing accepted
can go missing unnoticed. Meanwhile the memory of the server and its python-backend stubs is sampled:
the sum of VmRSS (what the issue asks for; shared-memory pages count once per process that maps them)
and PSS (each page counted once, ``loadtest.memory``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient

from lumaflow.client.errors import from_triton
from lumaflow.loadtest.memory import tree_pss_bytes
from lumaflow.loadtest.photos import PHOTO_SIDES, Arrivals, closed_loop, mixed_photos, photo_inputs
from lumaflow.loadtest.report import machine, percentile_ms
from lumaflow.server.triton import child_pids


def rss_bytes(pid: int) -> int:
    """VmRSS of one process in bytes (0 when it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class MemorySampler:
    """Samples the VmRSS sum and the PSS sum of ``pid`` and its children every ``interval_s``; keeps the peaks."""

    def __init__(self, pid: int, interval_s: float = 0.25) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.baseline_rss = self.peak_rss = self.baseline_pss = self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def measure(self) -> tuple[int, int]:
        pids = [self.pid, *child_pids(self.pid)]
        return sum(rss_bytes(pid) for pid in pids), tree_pss_bytes(self.pid)

    def _sample(self) -> None:
        while not self._stop.is_set():
            rss, pss = self.measure()
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> MemorySampler:
        self.baseline_rss, self.baseline_pss = self.peak_rss, self.peak_pss = self.measure()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class OverloadReport:
    pipeline: str
    sustainable_per_s: float
    offered_per_s: float
    seconds: float
    sent: int = 0
    served: int = 0
    overloaded: int = 0
    other_failures: dict[str, int] = field(default_factory=dict)
    served_p50_ms: float = 0.0
    served_p99_ms: float = 0.0
    refused_p50_ms: float = 0.0
    refused_p99_ms: float = 0.0
    goodput_per_s: float = 0.0
    peak_rss_mb: float = 0.0
    baseline_rss_mb: float = 0.0
    peak_pss_mb: float = 0.0
    baseline_pss_mb: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=machine)

    @property
    def accounted(self) -> bool:
        return self.sent == self.served + self.overloaded + sum(self.other_failures.values())

    def table(self) -> str:
        failures = ", ".join(f"{kind} {count}" for kind, count in sorted(self.other_failures.items())) or "none"
        rows = [
            ("pipeline", self.pipeline),
            ("sustainable (closed loop)", f"{self.sustainable_per_s:.2f}/s"),
            ("offered (open loop)", f"{self.offered_per_s:.2f}/s for {self.seconds:g} s: {self.sent} requests"),
            ("served", f"{self.served} ({self.goodput_per_s:.2f}/s)"),
            ("refused (Overloaded)", str(self.overloaded)),
            ("other failures", failures),
            ("served p50 / p99", f"{self.served_p50_ms:.0f} / {self.served_p99_ms:.0f} ms"),
            ("refused p50 / p99", f"{self.refused_p50_ms:.0f} / {self.refused_p99_ms:.0f} ms"),
            ("server + stubs RSS", f"{self.baseline_rss_mb:.0f} MB idle, {self.peak_rss_mb:.0f} MB peak"),
            ("server + stubs PSS", f"{self.baseline_pss_mb:.0f} MB idle, {self.peak_pss_mb:.0f} MB peak"),
            ("sent = served + refused + failed", "yes" if self.accounted else "NO"),
            ("machine", self.machine["summary"]),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


class _Outcomes:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {}
        self.outstanding = 0
        self.settled = threading.Condition(self.lock)

    def sent(self) -> None:
        with self.lock:
            self.outstanding += 1

    def done(self, started: float, error: Any) -> None:
        elapsed = time.monotonic() - started
        kind = "served" if error is None else type(from_triton(error)).__name__
        with self.lock:
            self.latencies.setdefault(kind, []).append(elapsed)
            self.outstanding -= 1
            self.settled.notify_all()

    def drain(self, timeout_s: float) -> int:
        """Waits for the answers still due; returns how many never came."""
        deadline = time.monotonic() + timeout_s
        with self.lock:
            while self.outstanding and time.monotonic() < deadline:
                self.settled.wait(deadline - time.monotonic())
            return self.outstanding


def run(
    url: str,
    pipeline: str,
    out: Path,
    *,
    server_pid: int | None,
    seconds: float = 60.0,
    factor: float = 3.0,
    clients: int = 8,
    sizing_seconds: float = 15.0,
    sides: Sequence[int] = PHOTO_SIDES,
    options: str = '{"format": "jpeg"}',
    timeout_s: float = 30.0,
    seed: int = 0,
) -> OverloadReport:
    """The closed-loop sizing, the open-loop overload, the memory peaks; ``report.json`` in ``out``."""
    requests = mixed_photos(sides)
    make_inputs = photo_inputs(requests, options)
    sizing = closed_loop(url, pipeline, clients, sizing_seconds, make_inputs, timeout_s)
    if sizing.succeeded == 0:
        raise RuntimeError(f"{pipeline} served nothing in the sizing run: {sizing.failed}")
    rate = factor * sizing.throughput_per_s
    report = OverloadReport(
        pipeline=pipeline,
        sustainable_per_s=round(sizing.throughput_per_s, 3),
        offered_per_s=round(rate, 3),
        seconds=seconds,
        settings={
            "url": url,
            "factor": factor,
            "sizing": f"closed loop, {clients} clients, {sizing_seconds:g} s (p50 {sizing.p50_ms:.0f} ms)",
            "photos": ", ".join(request.name for request in requests),
            "options": options,
            "timeout_s": timeout_s,
        },
    )
    outcomes = _Outcomes()
    client = grpcclient.InferenceServerClient(url)
    prepared = make_inputs()
    memory = MemorySampler(server_pid) if server_pid else None
    if memory is not None:
        memory.__enter__()
    try:
        arrivals = Arrivals(rate, seconds, timeout_s, np.random.default_rng(seed))
        number = arrivals.send(client, pipeline, prepared, outcomes.sent, outcomes.done)
        unanswered = outcomes.drain(timeout_s + 10)
    finally:
        if memory is not None:
            memory.__exit__()
        client.close()
    latencies = outcomes.latencies
    served, refused = latencies.pop("served", []), latencies.pop("Overloaded", [])
    report.sent = number
    report.served, report.overloaded = len(served), len(refused)
    report.other_failures = {kind: len(values) for kind, values in latencies.items()}
    if unanswered:
        report.other_failures["unanswered"] = unanswered
    report.served_p50_ms, report.served_p99_ms = percentile_ms(served, 50), percentile_ms(served, 99)
    report.refused_p50_ms, report.refused_p99_ms = percentile_ms(refused, 50), percentile_ms(refused, 99)
    report.goodput_per_s = round(len(served) / seconds, 3)
    if memory is not None:
        mb = 1024 * 1024
        report.baseline_rss_mb, report.peak_rss_mb = memory.baseline_rss / mb, memory.peak_rss / mb
        report.baseline_pss_mb, report.peak_pss_mb = memory.baseline_pss / mb, memory.peak_pss / mb
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps({**asdict(report), "accounted": report.accounted}, indent=2) + "\n")
    (out / "report.md").write_text(f"# Overload: {pipeline} at {factor:g}x\n\n```\n{report.table()}\n```\n")
    return report
