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

import contextlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient

from lumaflow.client.errors import from_triton
from lumaflow.loadtest.memory import PeakMemory
from lumaflow.loadtest.photos import PHOTO_SIDES, Arrivals, InFlight, closed_loop, mixed_photos, photo_inputs
from lumaflow.loadtest.report import machine, percentile_ms


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


class _Outcomes(InFlight):
    """Latencies by outcome: ``served``, or the ``lumaflow.client`` error class (``Overloaded``, ...)."""

    def __init__(self) -> None:
        super().__init__()
        self.latencies: dict[str, list[float]] = {}

    def record(self, elapsed: float, error: BaseException | None) -> None:
        kind = "served" if error is None else type(from_triton(error)).__name__  # type: ignore[arg-type]
        self.latencies.setdefault(kind, []).append(elapsed)


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
    sampling = PeakMemory(server_pid, interval_s=0.25) if server_pid else contextlib.nullcontext()
    with client, sampling as memory:
        arrivals = Arrivals(rate, seconds, timeout_s, np.random.default_rng(seed))
        number = arrivals.send(client, pipeline, prepared, outcomes.sent, outcomes.done)
        unanswered = outcomes.drain(timeout_s + 10)
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
        report.baseline_pss_mb, report.peak_pss_mb = memory.baseline / mb, memory.peak / mb
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps({**asdict(report), "accounted": report.accounted}, indent=2) + "\n")
    (out / "report.md").write_text(f"# Overload: {pipeline} at {factor:g}x\n\n```\n{report.table()}\n```\n")
    return report
