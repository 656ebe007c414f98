"""``lumaflow loadtest perf``: Triton's own perf_analyzer against a pipeline, with real photos or frames.

perf_analyzer comes from the ``tritonclient==2.51.0`` wheel (it matches the bundled server); it needs
Debian's ``libb64-0d`` and CUDA's runtime library (``nvidia-cuda-runtime-cu12`` from PyPI, which this
module puts on ``LD_LIBRARY_PATH``), even against a CPU server. Newer perf-analyzer wheels need a newer
glibc than Debian 12 has.

Input data is real: encoded photos for the photo pipelines (``IMAGE``, plus ``OPTIONS``), raw RGB
frames for the camera pipelines (``FRAME``). perf_analyzer reads a BYTES tensor given as ``b64`` as
the serialised tensor, so each photo is written length-prefixed, the way Triton lays strings out.
One perf_analyzer run per concurrency level (its own ranges are linear, the levels we want are not);
a level that does not stabilise is kept out of the table and named in the report's notes.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
from PIL import Image

from lumaflow.client.protocol import FRAME_INPUT, PHOTO_INPUT, PHOTO_OPTIONS
from lumaflow.loadtest.report import LoadPoint, LoadReport, stage_times
from lumaflow.loadtest.stats import statistics_snapshot

LIBB64_HINT = "perf_analyzer needs Debian's libb64: apt-get install libb64-0d"


class PerfAnalyzerUnavailable(RuntimeError):
    """perf_analyzer or a library it needs is missing; the message says what to install."""


def perf_analyzer_command() -> tuple[str, dict[str, str]]:
    """The perf_analyzer binary beside this Python (tritonclient's wheel) and the environment it runs in."""
    beside = Path(sys.executable).parent / "perf_analyzer"
    binary = str(beside) if beside.is_file() else shutil.which("perf_analyzer")
    if binary is None:
        raise PerfAnalyzerUnavailable("perf_analyzer not found: pip install 'tritonclient[all]==2.51.0'")
    try:
        import nvidia.cuda_runtime  # type: ignore[import-untyped,import-not-found]
    except ImportError:
        raise PerfAnalyzerUnavailable(
            "perf_analyzer links CUDA's runtime even for a CPU server: pip install nvidia-cuda-runtime-cu12"
        ) from None
    libraries = [str(Path(path) / "lib") for path in nvidia.cuda_runtime.__path__]
    environment = dict(os.environ)
    environment["LD_LIBRARY_PATH"] = os.pathsep.join([*libraries, *filter(None, [environment.get("LD_LIBRARY_PATH")])])
    return binary, environment


def _serialised(value: bytes) -> str:
    """A one-element BYTES tensor as perf_analyzer's ``b64`` wants it: 4-byte little-endian length, then bytes."""
    return base64.b64encode(struct.pack("<I", len(value)) + value).decode("ascii")


def default_photos(side: int) -> list[np.ndarray]:
    """Real photos (scikit-image's) scaled so that their long side is ``side``."""
    from skimage import data

    photos = []
    for name in ("astronaut", "coffee", "chelsea"):
        image = Image.fromarray(getattr(data, name)())
        scale = side / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        photos.append(np.asarray(image.resize(size, Image.Resampling.LANCZOS)))
    return photos


def load_photos(paths: Sequence[Path], side: int) -> list[np.ndarray]:
    if not paths:
        return default_photos(side)
    photos = []
    for path in paths:
        with Image.open(path) as image:
            photos.append(np.asarray(image.convert("RGB")))
    return photos


def input_data(inputs: Sequence[str], photos: Sequence[np.ndarray], frame: tuple[int, int], options: str) -> dict:
    """perf_analyzer's ``--input-data`` JSON: one entry per photo (it cycles through them)."""
    entries = []
    for pixels in photos:
        entry: dict[str, Any] = {}
        if FRAME_INPUT in inputs:
            width, height = frame
            resized = np.asarray(Image.fromarray(pixels).resize((width, height), Image.Resampling.BILINEAR))
            raw = base64.b64encode(resized.tobytes()).decode("ascii")
            entry[FRAME_INPUT] = {"b64": raw, "shape": [height, width, 3]}
        if PHOTO_INPUT in inputs:
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
            entry[PHOTO_INPUT] = {"b64": _serialised(buffer.getvalue()), "shape": [1]}
        if PHOTO_OPTIONS in inputs:
            entry[PHOTO_OPTIONS] = {"b64": _serialised(options.encode()), "shape": [1]}
        entries.append(entry)
    return {"data": entries}


def parse_csv(text: str) -> list[dict[str, float]]:
    """perf_analyzer's ``-f`` CSV (with ``--verbose-csv``): one row per level, microseconds as numbers."""
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        rows.append({key.strip(): float(value) for key, value in row.items() if key and value not in (None, "")})
    return rows


def run_level(
    binary: str,
    environment: dict[str, str],
    url: str,
    pipeline: str,
    data_file: Path,
    concurrency: int,
    measurement_ms: int,
    stability_percentage: int,
    max_trials: int,
    workdir: Path,
) -> tuple[dict[str, float] | None, str]:
    """One concurrency level: the CSV row (None when it did not stabilise or failed) and the log's tail."""
    csv_file = workdir / f"c{concurrency}.csv"
    command = [
        binary,
        "-m",
        pipeline,
        "-i",
        "grpc",
        "-u",
        url,
        "--input-data",
        str(data_file),
        "--concurrency-range",
        f"{concurrency}:{concurrency}",
        "--measurement-interval",
        str(measurement_ms),
        "--stability-percentage",
        str(stability_percentage),
        "--max-trials",
        str(max_trials),
        "--percentile",
        "99",
        "-f",
        str(csv_file),
        "--verbose-csv",
    ]
    timeout = (measurement_ms / 1000 + 5) * (max_trials + 2) + 30
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=timeout, check=False)
    log = (done.stdout + done.stderr)[-2000:]
    if "libb64" in log:
        raise PerfAnalyzerUnavailable(LIBB64_HINT)
    if done.returncode != 0 or not csv_file.is_file():
        return None, log
    rows = parse_csv(csv_file.read_text())
    return (rows[0] if rows else None), log


def _point(concurrency: int, row: dict[str, float], measurement_ms: int) -> LoadPoint:
    return LoadPoint(
        level=concurrency,
        sent=0,  # perf_analyzer reports rates and percentiles, not counts
        succeeded=0,
        failed={},
        seconds=measurement_ms / 1000,
        throughput_per_s=row["Inferences/Second"],
        p50_ms=row["p50 latency"] / 1e3,
        p90_ms=row["p90 latency"] / 1e3,
        p99_ms=row["p99 latency"] / 1e3,
        extra={
            "server_queue_ms": row.get("Server Queue", 0.0) / 1e3,
            "server_compute_infer_ms": row.get("Server Compute Infer", 0.0) / 1e3,
            "network_and_server_ms": row.get("Network+Server Send/Recv", 0.0) / 1e3,
        },
    )


def run(
    url: str,
    pipeline: str,
    concurrency: Sequence[int],
    out: Path,
    *,
    photos: Sequence[Path] = (),
    side: int = 256,
    frame: tuple[int, int] = (320, 240),
    options: str = '{"format": "jpeg"}',
    measurement_ms: int = 5000,
    stability_percentage: int = 50,
    max_trials: int = 6,
) -> LoadReport:
    binary, environment = perf_analyzer_command()
    client = grpcclient.InferenceServerClient(url)
    try:
        metadata = client.get_model_metadata(pipeline, as_json=True)
    except Exception as error:
        raise SystemExit(f"lumaflow loadtest perf: cannot read {pipeline!r} from {url}: {error}") from None
    inputs = [tensor["name"] for tensor in metadata.get("inputs", [])]
    framed = FRAME_INPUT in inputs
    report = LoadReport(
        command="lumaflow loadtest perf",
        pipeline=pipeline,
        level_name="concurrency",
        unit="requests",
        settings={
            "url": url,
            "driver": "perf_analyzer (tritonclient 2.51.0), gRPC, synchronous requests",
            "input": f"raw frames {frame[0]}x{frame[1]}" if framed else f"JPEG photos, long side {side} px",
            "measurement_ms": measurement_ms,
            "stability_percentage": stability_percentage,
        },
    )
    with tempfile.TemporaryDirectory(prefix="lumaflow-perf-") as scratch:
        workdir = Path(scratch)
        data_file = workdir / "input.json"
        data_file.write_text(json.dumps(input_data(inputs, load_photos(photos, side), frame, options)))
        before = statistics_snapshot(client)
        for level in concurrency:
            row, log = run_level(
                binary,
                environment,
                url,
                pipeline,
                data_file,
                level,
                measurement_ms,
                stability_percentage,
                max_trials,
                workdir,
            )
            if row is None:
                reason = next((line for line in log.splitlines() if "error" in line.lower() or "stable" in line), "")
                report.notes.append(f"concurrency {level}: no stable measurement ({reason.strip()[:200]})")
                continue
            report.points.append(_point(level, row, measurement_ms))
            print(
                f"concurrency {level:3d}: {row['Inferences/Second']:8.2f}/s  p50 {row['p50 latency'] / 1e3:7.1f} ms  "
                f"p99 {row['p99 latency'] / 1e3:7.1f} ms",
                flush=True,
            )
        report.stages = stage_times(before, statistics_snapshot(client))
    report.write(out)
    return report
