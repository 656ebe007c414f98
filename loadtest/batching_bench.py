"""Throughput of upscale_x2_fast (ESPCN) with its SR stage's dynamic batching on and off, in one run.

Both configurations are rendered from the same declarations (batching off = the SR stage
without ``dynamic_batching``), served by real tritonservers one after the other, and driven by
the same closed-loop gRPC clients sending the same real photo. Prints a table, writes JSON.

    python -m lumaflow.loadtest.batching_bench --seconds 20 --clients 16 --out bench/batching.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import tritonclient.grpc as grpcclient

from lumaflow.ensemble.generate import write_repository
from lumaflow.ensemble.render import render, stage_config
from lumaflow.ensemble.stages import ESPCN_X2
from lumaflow.loadtest.stats import model_counts
from lumaflow.server.triton import running_server


@dataclass(frozen=True)
class Measurement:
    config: str
    clients: int
    seconds: float
    requests: int
    errors: int
    throughput_rps: float
    latency_p50_ms: float
    latency_p99_ms: float
    sr_inferences_per_execution: float


def _sample_photo(side: int) -> bytes:
    """A real photo crop (scikit-image astronaut) encoded as PNG."""
    import io

    from PIL import Image
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(data.astronaut())[:side, :side]).save(buffer, format="PNG")
    return buffer.getvalue()


def _repository(source: Path, destination: Path, batching: bool) -> Path:
    write_repository(destination)
    for name in ("model.onnx", "model.onnx.json"):
        shutil.copy2(source / ESPCN_X2.name / "1" / name, destination / ESPCN_X2.name / "1" / name)
    if not batching:
        config = replace(stage_config(ESPCN_X2), dynamic_batching=None)
        (destination / ESPCN_X2.name / "config.pbtxt").write_text(render(config))
    return destination


def _drive(url: str, payload: bytes, clients: int, seconds: float, warmup: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    start = time.monotonic()
    stop_at = start + warmup + seconds

    def loop() -> None:
        nonlocal errors
        tensor = grpcclient.InferInput("IMAGE", [1, 1], "BYTES")
        tensor.set_data_from_numpy(np.array([[payload]], dtype=np.object_))
        with grpcclient.InferenceServerClient(url) as client:
            while time.monotonic() < stop_at:
                sent = time.monotonic()
                try:
                    client.infer("upscale_x2_fast", [tensor], client_timeout=120)
                except Exception:
                    with lock:
                        errors += 1
                    continue
                done = time.monotonic()
                if sent >= start + warmup:
                    with lock:
                        latencies.append(done - sent)

    threads = [threading.Thread(target=loop) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors


def _sr_ratio(url: str) -> float:
    with grpcclient.InferenceServerClient(url) as client:
        inferences, executions = model_counts(client, ESPCN_X2.name)
    return inferences / executions if executions else 0.0


def measure(source: Path, batching: bool, clients: int, seconds: float, warmup: float, side: int) -> Measurement:
    with tempfile.TemporaryDirectory(prefix="lumaflow-bench-") as scratch:
        repository = _repository(source, Path(scratch), batching)
        with running_server(repository) as server:
            latencies, errors = _drive(server.endpoints.grpc_url, _sample_photo(side), clients, seconds, warmup)
            ratio = _sr_ratio(server.endpoints.grpc_url)
    ordered = sorted(latencies)
    return Measurement(
        config="dynamic batching on" if batching else "dynamic batching off",
        clients=clients,
        seconds=seconds,
        requests=len(latencies),
        errors=errors,
        throughput_rps=len(latencies) / seconds,
        latency_p50_ms=statistics.median(ordered) * 1e3 if ordered else float("nan"),
        latency_p99_ms=ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1e3 if ordered else float("nan"),
        sr_inferences_per_execution=ratio,
    )


def main(argv: list[str] | None = None) -> int:
    from lumaflow.cli import DEFAULT_REPOSITORY, ensure_artifacts

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--side", type=int, default=256, help="side of the square photo crop sent (output is 2x)")
    parser.add_argument("--out", type=Path, default=Path("bench/batching.json"))
    args = parser.parse_args(argv)

    ensure_artifacts(DEFAULT_REPOSITORY)
    results = [
        measure(DEFAULT_REPOSITORY, batching, args.clients, args.seconds, args.warmup, args.side)
        for batching in (True, False)
    ]
    print(f"{'config':<22} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'inf/exec':>9} {'errors':>6}")
    for result in results:
        print(
            f"{result.config:<22} {result.throughput_rps:7.2f} {result.latency_p50_ms:8.1f} "
            f"{result.latency_p99_ms:8.1f} {result.sr_inferences_per_execution:9.2f} {result.errors:6d}"
        )
    ratio = results[0].throughput_rps / results[1].throughput_rps if results[1].throughput_rps else float("nan")
    print(f"throughput ratio on/off: {ratio:.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor(), "platform": platform.platform()},
        "photo": f"skimage astronaut crop {args.side}x{args.side} PNG -> x2",
        "results": [asdict(result) for result in results],
        "throughput_ratio_on_off": ratio,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
