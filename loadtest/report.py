"""One report format for every load command: report.json, report.md and PNG plots in one folder.

A report is a list of load points (one per concurrency, arrival rate or camera count), each with
throughput and latency percentiles and what failed, plus where the time went inside the server:
Triton's own per-model statistics (queue, compute input / infer / output, batches), read before and
after the run and subtracted, so the breakdown covers exactly the measured window.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lumaflow.loadtest.stats import PHASES


@dataclass(frozen=True)
class LoadPoint:
    """What one load level gave: requests (or frames) per second and latency percentiles, in ms."""

    level: float  # the x axis: concurrency, offered rate per second, or number of cameras
    sent: int
    succeeded: int
    failed: dict[str, int]  # by reason (error class or drop reason)
    seconds: float
    throughput_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StageTime:
    """Per model, over the measured window: average microseconds per inference in each phase."""

    model: str
    inferences: int
    executions: int
    queue_us: float
    compute_input_us: float
    compute_infer_us: float
    compute_output_us: float

    @property
    def average_batch(self) -> float:
        return self.inferences / self.executions if self.executions else 0.0


@dataclass
class LoadReport:
    command: str
    pipeline: str
    level_name: str  # "concurrency", "offered rate (/s)", "cameras"
    unit: str  # "requests" or "frames"
    points: list[LoadPoint] = field(default_factory=list)
    stages: list[StageTime] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Every field, the machine it ran on, and each stage's average batch (a property, so not a field)."""
        report = asdict(self)
        report["stages"] = [{**asdict(stage), "average_batch": round(stage.average_batch, 3)} for stage in self.stages]
        return {**report, "machine": machine()}

    def markdown(self) -> str:
        lines = [
            f"# {self.command}: {self.pipeline}",
            "",
            f"Machine: {machine()['summary']}. Settings: "
            + ", ".join(f"{key} {value}" for key, value in self.settings.items()),
            "",
            f"| {self.level_name} | {self.unit}/s | p50 ms | p90 ms | p99 ms | sent | succeeded | failed |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for p in self.points:
            failed = ", ".join(f"{reason} {count}" for reason, count in sorted(p.failed.items())) or "0"
            counted = p.sent or p.succeeded or p.failed  # perf_analyzer reports rates, not counts
            sent, succeeded = (str(p.sent), str(p.succeeded)) if counted else ("—", "—")
            lines.append(
                f"| {p.level:g} | {p.throughput_per_s:.2f} | {p.p50_ms:.1f} | {p.p90_ms:.1f} | {p.p99_ms:.1f} | "
                f"{sent} | {succeeded} | {failed} |"
            )
        if self.stages:
            lines += [
                "",
                "Where the time went inside the server (Triton's statistics over the whole run, per inference):",
                "",
                *stage_table(self.stages),
            ]
        if self.notes:
            lines += ["", *(f"- {note}" for note in self.notes)]
        return "\n".join(lines) + "\n"

    def write(self, out: Path) -> list[Path]:
        """report.json, report.md, throughput.png and latency.png in ``out`` (created)."""
        out.mkdir(parents=True, exist_ok=True)
        written = [out / "report.json", out / "report.md"]
        written[0].write_text(json.dumps(self.as_dict(), indent=1) + "\n")
        written[1].write_text(self.markdown())
        written += plot(self, out)
        return written


def stage_table(stages: Sequence[StageTime]) -> list[str]:
    """Markdown rows of the per-model breakdown, in milliseconds per inference."""
    lines = [
        "| model | inferences | average batch | queue ms | compute input ms | compute infer ms | compute output ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in stages:
        lines.append(
            f"| {s.model} | {s.inferences} | {s.average_batch:.2f} | {s.queue_us / 1e3:.2f} | "
            f"{s.compute_input_us / 1e3:.2f} | {s.compute_infer_us / 1e3:.2f} | {s.compute_output_us / 1e3:.2f} |"
        )
    return lines


def plot(report: LoadReport, out: Path) -> list[Path]:
    """Throughput against load and p50/p90/p99 latency against load (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = [p.level for p in report.points]
    paths = []
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot(levels, [p.throughput_per_s for p in report.points], marker="o")
    axis.set_xlabel(report.level_name)
    axis.set_ylabel(f"{report.unit} per second")
    axis.set_title(f"{report.pipeline}: throughput")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    paths.append(out / "throughput.png")
    figure.savefig(paths[-1], dpi=100)
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(6, 4))
    for name in ("p50", "p90", "p99"):
        axis.plot(levels, [getattr(p, f"{name}_ms") for p in report.points], marker="o", label=name)
    axis.set_xlabel(report.level_name)
    axis.set_ylabel("latency, ms")
    axis.set_title(f"{report.pipeline}: latency")
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    paths.append(out / "latency.png")
    figure.savefig(paths[-1], dpi=100)
    plt.close(figure)
    return paths


def percentile_ms(latencies_s: Sequence[float], q: float) -> float:
    """The q-th percentile (nearest rank) of latencies in seconds, in ms; NaN when there are none."""
    if not latencies_s:
        return math.nan
    ordered = sorted(latencies_s)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))] * 1e3


def point(
    level: float, latencies_s: Sequence[float], failed: Mapping[str, int], seconds: float, **extra: Any
) -> LoadPoint:
    """A load point from the successful requests' latencies and the failures counted by reason."""
    failures = {reason: count for reason, count in failed.items() if count}
    return LoadPoint(
        level=level,
        sent=len(latencies_s) + sum(failures.values()),
        succeeded=len(latencies_s),
        failed=failures,
        seconds=round(seconds, 3),
        throughput_per_s=len(latencies_s) / seconds if seconds > 0 else 0.0,
        p50_ms=percentile_ms(latencies_s, 50),
        p90_ms=percentile_ms(latencies_s, 90),
        p99_ms=percentile_ms(latencies_s, 99),
        extra=dict(extra),
    )


# --- Triton's statistics -----------------------------------------------------------------------------------


def stage_times(before: Mapping[str, Mapping[str, int]], after: Mapping[str, Mapping[str, int]]) -> list[StageTime]:
    """The models that ran between two snapshots, busiest first, with per-inference phase averages."""
    stages = []
    for model, end in after.items():
        start = before.get(model, {})
        inferences = end["inferences"] - start.get("inferences", 0)
        if inferences <= 0:
            continue
        per = {phase: (end[f"{phase}_ns"] - start.get(f"{phase}_ns", 0)) / inferences / 1e3 for phase in PHASES}
        stages.append(
            StageTime(
                model=model,
                inferences=inferences,
                executions=end["executions"] - start.get("executions", 0),
                queue_us=per["queue"],
                compute_input_us=per["compute_input"],
                compute_infer_us=per["compute_infer"],
                compute_output_us=per["compute_output"],
            )
        )
    return sorted(stages, key=lambda s: s.inferences * (s.queue_us + s.compute_infer_us), reverse=True)


def machine() -> dict[str, Any]:
    """Where a figure came from: CPU model, cores, Python, and the load average, which shows whether the
    CPU was shared at the time (absolute figures belong to their machine)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    cores = os.cpu_count() or 0
    return {
        "cpu": cpu,
        "cores": cores,
        "python": platform.python_version(),
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "summary": f"{cpu}, {cores} cores, Python {platform.python_version()}",
    }


def write_json(out: Path, report: Mapping[str, Any], indent: int = 2) -> None:
    """A benchmark's JSON report at ``out`` (its folder made if need be), ending in a newline as committed files do."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=indent) + "\n")
