"""The load levels of ``lumaflow.bench.gpu_triton``: camera streams through shared memory, photos over gRPC,
Triton's per-model and per-batch-size statistics around each measured window, GPU utilisation and the
torch profiler's kernel time of the served artefact.

A level is N closed-loop callers: each sends its next request when the last one is answered. The first
``warm_s`` seconds are not counted (CUDA graphs are captured on a batch size's first sight); latencies
count for requests sent and answered inside the measured window, whose Triton statistics are the
difference of two snapshots taken at its edges.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient

from lumaflow import contract
from lumaflow.client.protocol import frame_inputs
from lumaflow.client.shm import FrameSlots
from lumaflow.ensemble.stages import Stage
from lumaflow.loadtest.photos import failure_reason
from lumaflow.loadtest.report import percentile_ms, stage_times
from lumaflow.loadtest.stats import BatchStats, batch_snapshot, statistics_snapshot


def batch_delta(before: BatchStats, after: BatchStats) -> BatchStats:
    zero = {"executions": 0, "compute_input_ns": 0, "compute_infer_ns": 0, "compute_output_ns": 0}
    delta = {
        size: {key: value - before.get(size, zero)[key] for key, value in row.items()} for size, row in after.items()
    }
    return {size: row for size, row in delta.items() if row["executions"] > 0}


def network_summary(delta: BatchStats, seconds: float, instances: int) -> dict[str, Any]:
    """Per execution and per frame: Triton's compute_infer time of the network stage, and how busy it kept it."""
    executions = sum(row["executions"] for row in delta.values())
    frames = sum(size * row["executions"] for size, row in delta.items())
    infer_ns = sum(row["compute_infer_ns"] for row in delta.values())
    busy_ns = sum(
        row["compute_input_ns"] + row["compute_infer_ns"] + row["compute_output_ns"] for row in delta.values()
    )
    return {
        "executions": executions,
        "average_batch": frames / executions if executions else 0.0,
        "compute_infer_ms_per_execution": infer_ns / executions / 1e6 if executions else None,
        "compute_infer_ms_per_frame": infer_ns / frames / 1e6 if frames else None,
        "instances_busy": busy_ns / 1e9 / (seconds * instances) if seconds else None,
        "by_batch": {
            size: {
                "executions": row["executions"],
                "compute_infer_ms": row["compute_infer_ns"] / row["executions"] / 1e6,
            }
            for size, row in sorted(delta.items())
        },
    }


class GpuSampler:
    """GPU utilisation (NVML, every 100 ms) while a window is measured; nothing without a GPU or pynvml."""

    def __init__(self) -> None:
        self.samples: list[tuple[int, int]] = []
        self.handle: Any = None
        try:
            import pynvml  # nvidia-ml-py, on the GPU machine

            pynvml.nvmlInit()
            self.handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            self.nvml: Any = pynvml
        except Exception:  # no driver, no library: utilisation is simply not reported
            self.handle = None
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> GpuSampler:
        if self.handle is not None:
            self.thread = threading.Thread(target=self._poll, daemon=True)
            self.thread.start()
        return self

    def _poll(self) -> None:
        while not self.stop.wait(0.1):
            rates = self.nvml.nvmlDeviceGetUtilizationRates(self.handle)
            self.samples.append((int(rates.gpu), int(rates.memory)))

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(1.0)

    def summary(self) -> dict[str, float] | None:
        if not self.samples:
            return None
        gpu, memory = zip(*self.samples, strict=True)
        return {"gpu_util_percent": float(np.mean(gpu)), "memory_util_percent": float(np.mean(memory))}


class Window:
    """Closed-loop callers, a warm-up, then a measured window with Triton's statistics at its edges."""

    def __init__(self, url: str, network: str, warm_s: float, seconds: float) -> None:
        self.url, self.network = url, network
        self.warm_s, self.seconds = warm_s, seconds
        self.lock = threading.Lock()
        self.records: list[tuple[float, float]] = []  # (sent, answered) of successes
        self.failed: Counter[str] = Counter()

    def record(self, sent: float, error: BaseException | None) -> None:
        with self.lock:
            if error is None:
                self.records.append((sent, time.monotonic()))
            else:
                self.failed[failure_reason(error)] += 1

    def run(self, callers: int, caller: Callable[[float], None], instances: int) -> dict[str, Any]:
        """``caller(stop_at)`` on ``callers`` threads; the window's throughput, latency and the network's figures."""
        begin = time.monotonic()
        start, end = begin + self.warm_s, begin + self.warm_s + self.seconds
        threads = [threading.Thread(target=caller, args=(end,), daemon=True) for _ in range(callers)]
        for thread in threads:
            thread.start()
        with grpcclient.InferenceServerClient(self.url) as client:
            time.sleep(max(0.0, start - time.monotonic()))
            before, batches = statistics_snapshot(client), batch_snapshot(client, self.network)
            with GpuSampler() as sampler:
                time.sleep(max(0.0, end - time.monotonic()))
            after, batches_after = statistics_snapshot(client), batch_snapshot(client, self.network)
        for thread in threads:
            thread.join(60.0)
        with self.lock:
            latencies = [done - sent for sent, done in self.records if start <= sent and done <= end]
            failed = dict(self.failed)
        stages = {row.model: row for row in stage_times(before, after)}
        network = stages.get(self.network)
        return {
            "callers": callers,
            "per_s": len(latencies) / self.seconds,
            "p50_ms": percentile_ms(latencies, 50),
            "p99_ms": percentile_ms(latencies, 99),
            "answered": len(latencies),
            "failed": failed,
            "network": network_summary(batch_delta(batches, batches_after), self.seconds, instances),
            "network_queue_ms": network.queue_us / 1e3 if network else None,
            "models_compute_infer_ms": {name: row.compute_infer_us / 1e3 for name, row in stages.items()},
            "gpu": sampler.summary(),
        }


def camera_level(
    url: str,
    model: str,
    network: str,
    frames: Sequence[np.ndarray],
    streams: int,
    timing: tuple[float, float],
    *,
    instances: int,
    scale: int = 2,
    shm: bool = True,
) -> dict[str, Any]:
    """``streams`` cameras, each sending its frames through its own shared-memory slot (or gRPC), closed loop."""
    window = Window(url, network, *timing)
    height, width = frames[0].shape[:2]

    def caller(stop_at: float) -> None:
        with grpcclient.InferenceServerClient(url) as client:
            slots = FrameSlots(
                client, contract.FRAME.name, contract.ENHANCED_FRAME.name,
                (1, height, width, 3), (1, height * scale, width * scale, 3), slots=1 if shm else 0,
            )  # fmt: skip
            try:
                number = 0
                while time.monotonic() < stop_at:
                    frame = frames[number % len(frames)]
                    inputs, outputs = slots.request(0, frame) if shm else (frame_inputs(frame), None)
                    number += 1
                    sent = time.monotonic()
                    try:
                        client.infer(model, inputs, outputs=outputs, client_timeout=30.0)
                    except Exception as error:  # every failure is counted, by its reason
                        window.record(sent, error)
                    else:
                        window.record(sent, None)
            finally:
                slots.close()

    return window.run(streams, caller, instances)


def photo_level(
    url: str,
    pipeline: str,
    network: str,
    make_inputs: Callable[[], list[list[grpcclient.InferInput]]],
    clients: int,
    timing: tuple[float, float],
    *,
    instances: int,
) -> dict[str, Any]:
    """``clients`` photo callers over gRPC (IMAGE and OPTIONS), closed loop."""
    window = Window(url, network, *timing)

    def caller(stop_at: float) -> None:
        with grpcclient.InferenceServerClient(url) as client:
            prepared = make_inputs()
            number = 0
            while time.monotonic() < stop_at:
                sent = time.monotonic()
                try:
                    client.infer(pipeline, prepared[number % len(prepared)], client_timeout=120.0)
                except Exception as error:  # every failure is counted, by its reason
                    window.record(sent, error)
                else:
                    window.record(sent, None)
                number += 1

    return window.run(clients, caller, instances)


def direct_levels(artifact: Path, frames: Sequence[np.ndarray], seconds: float) -> list[dict[str, Any]]:
    """The camera artefact in this process at batches 1, 4 and 8: frames/s and ms per call (host copies included)."""
    from lumaflow.runtime.engines import EnginePolicy, open_engine

    engine = open_engine("torch_cuda", artifact, EnginePolicy(threads=2))
    rows = []
    for batch in (1, 4, 8):
        feed = {engine.input_names[0]: np.stack([frames[index % len(frames)] for index in range(batch)])}
        for _ in range(3):
            engine.run(feed)
        calls, started = 0, time.monotonic()
        while time.monotonic() - started < seconds:
            engine.run(feed)
            calls += 1
        elapsed = time.monotonic() - started
        rows.append({"batch": batch, "frames_per_s": calls * batch / elapsed, "ms_per_call": elapsed / calls * 1e3})
        print(f"direct batch {batch}: {rows[-1]['frames_per_s']:.1f} frames/s", flush=True)
    return rows


def prime(url: str, stage: Stage, frames: Sequence[np.ndarray], instances: int, shm: bool) -> float:
    """Every batch size of a camera stage once per instance, so no CUDA graph is captured inside a measured window."""
    from concurrent.futures import ThreadPoolExecutor

    started = time.monotonic()
    names = (stage.inputs[0].name, stage.outputs[0].name)

    def send(batch: int) -> None:
        pixels = np.stack([frames[index % len(frames)] for index in range(batch)])
        with grpcclient.InferenceServerClient(url) as client:
            if shm:
                out = (batch, stage.scale * pixels.shape[1], stage.scale * pixels.shape[2], 3)
                slots = FrameSlots(client, *names, pixels.shape, out, slots=1)
                try:
                    inputs, outputs = slots.request(0, pixels)
                    client.infer(stage.name, inputs, outputs=outputs, client_timeout=300.0)
                finally:
                    slots.close()
                return
            tensor = grpcclient.InferInput(names[0], list(pixels.shape), "UINT8")
            tensor.set_data_from_numpy(pixels)
            client.infer(stage.name, [tensor], client_timeout=300.0)

    sizes = [batch for batch in range(1, stage.max_batch_size + 1) for _ in range(instances)]
    with ThreadPoolExecutor(instances) as pool:
        list(pool.map(send, sizes))
    return round(time.monotonic() - started, 1)


def best_under(levels: Sequence[dict[str, Any]], slo_ms: float) -> dict[str, Any] | None:
    """The level with the most throughput whose p99 is within ``slo_ms`` and that failed nothing."""
    fitting = [level for level in levels if level["p99_ms"] <= slo_ms and not level["failed"] and level["answered"]]
    return max(fitting, key=lambda level: level["per_s"]) if fitting else None


def profile_engine(artifact: Path, feed: dict[str, np.ndarray], calls: int, cuda_graphs: bool) -> dict[str, Any]:
    """One artefact in this process at one batch: wall time per call, and the profiler's device (or CPU op) time."""
    import os

    import torch
    from torch.profiler import ProfilerActivity, profile

    from lumaflow.runtime.engines import EnginePolicy, open_engine

    saved = os.environ.get("LUMAFLOW_TORCH_CUDA_GRAPHS")
    os.environ["LUMAFLOW_TORCH_CUDA_GRAPHS"] = "16" if cuda_graphs else "0"
    try:
        engine = open_engine("torch_cuda", artifact, EnginePolicy(threads=2))
    finally:
        if saved is None:
            os.environ.pop("LUMAFLOW_TORCH_CUDA_GRAPHS")
        else:
            os.environ["LUMAFLOW_TORCH_CUDA_GRAPHS"] = saved
    cuda = torch.cuda.is_available() and getattr(engine, "device", torch.device("cpu")).type == "cuda"
    for _ in range(3):
        engine.run(feed)
    activities = [ProfilerActivity.CPU, *([ProfilerActivity.CUDA] if cuda else [])]
    started = time.monotonic()
    with profile(activities=activities) as profiler:
        for _ in range(calls):
            engine.run(feed)
    wall = (time.monotonic() - started) / calls
    kernels = copies = 0.0
    for event in profiler.events():
        if cuda and event.device_type == torch.autograd.DeviceType.CUDA:
            duration = event.time_range.elapsed_us()
            if event.name.startswith(("Memcpy", "Memset")):
                copies += duration
            else:
                kernels += duration
    if not cuda:  # the CPU dry run: the ops' own CPU time stands in for kernels
        kernels = sum(row.self_cpu_time_total for row in profiler.key_averages())
    return {
        "cuda_graphs": cuda_graphs,
        "wall_ms_per_call": wall * 1e3,
        "kernel_ms_per_call": kernels / calls / 1e3,
        "memcpy_ms_per_call": copies / calls / 1e3,
    }
