"""Photo pipelines end to end: warmup's effect on the first request, mixed sizes batching, a 12 MP photo.

Three measurements on real tritonservers, one after the other, on this machine:

- **first request**: latency of the first and second request to a few pipelines right after the
  server is ready, with the repository's warmup and with the same repository stripped of it;
- **mixed sizes**: 8 clients sending small, medium and large crops of real photos at once through
  ``upscale_x2``; the SR stage's inferences per execution say whether whole photos and tiles of
  different requests shared batches;
- **12 MP**: one 4000x3000 JPEG of a real photo through ``upscale_x2``: seconds, and the peak PSS of
  tritonserver plus its python-backend stubs.

Prints a table per measurement and writes JSON:

    python -m lumaflow.bench.pipeline --out bench-results/pipelines.json [--skip-12mp]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
from google.protobuf import text_format
from PIL import Image
from tritonclient.grpc import model_config_pb2 as pb

from lumaflow.client.protocol import photo_inputs
from lumaflow.loadtest.memory import PeakMemory
from lumaflow.loadtest.report import write_json
from lumaflow.loadtest.stats import model_counts
from lumaflow.server.process import TritonServer, running_server

FIRST_REQUEST_PIPELINES = ("upscale_x2_fast", "upscale_x2", "denoise")
MIXED_SIZES = ((120, 160), (400, 300), (700, 900), (96, 96), (300, 500), (640, 480), (200, 200), (512, 768))


def _encode(pixels: np.ndarray, fmt: str = "PNG", **options: Any) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _photo() -> np.ndarray:
    from skimage import data

    return np.asarray(data.astronaut(), dtype=np.uint8)


def _infer(client: grpcclient.InferenceServerClient, pipeline: str, data: bytes, timeout_s: float = 3600) -> float:
    inputs = photo_inputs(data, {})  # IMAGE alone: the pipeline's default options
    started = time.perf_counter()
    client.infer(pipeline, inputs, client_timeout=timeout_s)
    return time.perf_counter() - started


def _without_warmup(source: Path, destination: Path) -> Path:
    """A copy of the repository whose configs have no model_warmup."""
    shutil.copytree(source, destination, dirs_exist_ok=True)
    for path in destination.glob("*/config.pbtxt"):
        config = text_format.Parse(path.read_text(), pb.ModelConfig())
        if config.model_warmup:
            config.ClearField("model_warmup")
            path.write_text(text_format.MessageToString(config))
    return destination


def first_requests(repository: Path) -> dict[str, dict[str, float]]:
    """Seconds of the first and second request per pipeline, right after the server is ready."""
    data = _encode(_photo()[:256, :256])
    result: dict[str, dict[str, float]] = {}
    with running_server(repository) as server, grpcclient.InferenceServerClient(server.endpoints.grpc_url) as client:
        for pipeline in FIRST_REQUEST_PIPELINES:
            first = _infer(client, pipeline, data)
            second = _infer(client, pipeline, data)
            result[pipeline] = {"first_ms": round(first * 1e3, 1), "second_ms": round(second * 1e3, 1)}
    return result


def mixed_sizes(server: TritonServer, pipeline: str, stage: str, rounds: int) -> dict[str, float]:
    source = np.tile(_photo(), (2, 2, 1))
    payloads = [_encode(source[:h, :w]) for h, w in MIXED_SIZES]
    with grpcclient.InferenceServerClient(server.endpoints.grpc_url) as client:
        before = model_counts(client, stage)

        def one_client(index: int) -> float:
            with grpcclient.InferenceServerClient(server.endpoints.grpc_url) as own:
                return sum(_infer(own, pipeline, payloads[(index + r) % len(payloads)]) for r in range(rounds))

        started = time.perf_counter()
        with ThreadPoolExecutor(len(payloads)) as pool:
            list(pool.map(one_client, range(len(payloads))))
        seconds = time.perf_counter() - started
        after = model_counts(client, stage)
    inferences, executions = after[0] - before[0], after[1] - before[1]
    return {
        "requests": len(payloads) * rounds,
        "seconds": round(seconds, 1),
        "stage_inferences": inferences,
        "stage_executions": executions,
        "inferences_per_execution": round(inferences / executions, 2) if executions else 0.0,
    }


def twelve_megapixels(server: TritonServer) -> dict[str, float]:
    from lumaflow.build.photos import load_rgb, wallpaper_photo_paths

    photo = load_rgb(wallpaper_photo_paths()[0])
    big = np.asarray(Image.fromarray(photo).resize((4000, 3000), Image.Resampling.LANCZOS))
    data = _encode(big, "JPEG", quality=90)
    with grpcclient.InferenceServerClient(server.endpoints.grpc_url) as client, PeakMemory(server.pid) as memory:
        seconds = _infer(client, "upscale_x2", data)
    return {
        "seconds": round(seconds, 1),
        "jpeg_mb": round(len(data) / 1e6, 2),
        "peak_pss_gib": round(memory.peak / 2**30, 2),
        "idle_pss_gib": round(memory.baseline / 2**30, 2),
    }


def _table(title: str, rows: dict[str, dict[str, Any]]) -> None:
    print(f"\n{title}")
    columns = list(next(iter(rows.values())))
    print(f"{'':<22}" + "".join(f"{column:>26}" for column in columns))
    for name, row in rows.items():
        print(f"{name:<22}" + "".join(f"{row[column]!s:>26}" for column in columns))


def main(argv: list[str] | None = None) -> int:
    from lumaflow.build.deploy import DEFAULT_REPOSITORY, ensure_artifacts

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="requests per client in the mixed-sizes run")
    parser.add_argument("--skip-12mp", action="store_true", help="leave out the 12 MP photo (minutes on 2 cores)")
    parser.add_argument("--out", type=Path, default=Path("bench-results/pipelines.json"))
    args = parser.parse_args(argv)
    ensure_artifacts(DEFAULT_REPOSITORY)

    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor(), "platform": platform.platform()}
    }
    with tempfile.TemporaryDirectory(prefix="lumaflow-bench-") as scratch:
        cold = _without_warmup(DEFAULT_REPOSITORY, Path(scratch) / "repository")
        report["first_request"] = {
            "with warmup": first_requests(DEFAULT_REPOSITORY),
            "without warmup": first_requests(cold),
        }
    for label, figures in report["first_request"].items():
        _table(f"first request after ready, {label} (256x256 PNG)", figures)

    runs: dict[str, Callable[[TritonServer], dict[str, float]]] = {
        "upscale_x2 (span_x2)": lambda server: mixed_sizes(server, "upscale_x2", "span_x2", args.rounds),
        "upscale_x2_fast (espcn_x2)": lambda server: mixed_sizes(server, "upscale_x2_fast", "espcn_x2", args.rounds),
    }
    with running_server(DEFAULT_REPOSITORY) as server:
        report["mixed_sizes"] = {name: run(server) for name, run in runs.items()}
        _table(f"8 clients, mixed sizes {MIXED_SIZES}", report["mixed_sizes"])
        if not args.skip_12mp:
            report["twelve_megapixels"] = {"upscale_x2": twelve_megapixels(server)}
            _table("a 4000x3000 JPEG through upscale_x2", report["twelve_megapixels"])
    write_json(args.out, report)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
