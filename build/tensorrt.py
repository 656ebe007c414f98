"""Build TensorRT plans from a stage's ONNX graph, on a machine with an NVIDIA GPU and TensorRT.

The plan is specific to the GPU model and the TensorRT version that built it, so its cache key
is the ONNX graph's hash, the optimisation profiles, the precision, the TensorRT version and the
GPU name (as vs-mlrt keys its engines); a timing cache beside it makes rebuilds fast. A file lock
and an atomic rename keep two concurrent builds from writing half a plan. Triton loads a plan
only with the TensorRT it was built with: build inside the NGC image that serves it.

Nothing here runs without ``tensorrt``: ``require_tensorrt`` says so in one line.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from lumaflow.ensemble.stages import Stage

WORKSPACE_BYTES = 4 << 30


class TensorRTUnavailable(RuntimeError):
    """TensorRT (or a GPU for it) is missing; the message says what to do in one line."""


@dataclass(frozen=True)
class ShapeProfile:
    """One optimisation profile of the stage's pixel input, NHWC (batch, height, width, channels)."""

    minimum: tuple[int, int, int, int]
    optimum: tuple[int, int, int, int]
    maximum: tuple[int, int, int, int]


def profiles_for(stage: Stage) -> list[ShapeProfile]:
    """Profiles covering the stage's size buckets: small, medium and large photos.

    Decode pads every photo to a bucket side, so each profile spans a range of buckets; the batch
    bound shrinks with size so one call stays within the stage's pixel budget, like the CPU path.
    """
    if stage.size_buckets is None:
        raise ValueError(f"stage {stage.name!r} declares no size buckets to build profiles from")
    ladder = stage.size_buckets.ladder
    channels = stage.inputs[0].dims[-1]
    ranges = [(ladder[0], 512), (512, 1024), (1024, ladder[-1])]
    profiles = []
    for low, high in ranges:
        sides = [side for side in ladder if low <= side <= high]
        if not sides:
            continue
        optimum_side = sides[len(sides) // 2]
        max_batch = max(1, min(stage.max_batch_size, stage.max_batch_pixels // (high * high)))
        profiles.append(
            ShapeProfile(
                minimum=(1, low, low, channels),
                optimum=(max(1, max_batch // 2), optimum_side, optimum_side, channels),
                maximum=(max_batch, high, high, channels),
            )
        )
    return profiles


def require_tensorrt() -> ModuleType:
    """The ``tensorrt`` module, or ``TensorRTUnavailable`` with what to do."""
    try:
        import tensorrt
    except ImportError:
        raise TensorRTUnavailable(
            "TensorRT is not installed: build plans on a GPU machine inside the NGC tritonserver image "
            "(nvcr.io/nvidia/tritonserver:24.10-py3 ships the TensorRT that Triton 2.51 loads)"
        ) from None
    return tensorrt


def gpu_name() -> str:
    """The name of GPU 0, part of the plan's cache key (plans do not move between GPU models)."""
    try:
        output = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader", "--id=0"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        raise TensorRTUnavailable("no NVIDIA GPU found (nvidia-smi failed); TensorRT plans need one") from None
    return output.strip().splitlines()[0]


def plan_key(onnx_sha256: str, profiles: list[ShapeProfile], fp16: bool, tensorrt_version: str, gpu: str) -> str:
    """The content key of a plan: any change to one ingredient means another plan."""
    ingredients = {
        "onnx_sha256": onnx_sha256,
        "profiles": [asdict(profile) for profile in profiles],
        "precision": "fp16" if fp16 else "fp32",
        "tensorrt": tensorrt_version,
        "gpu": gpu,
    }
    return hashlib.sha256(json.dumps(ingredients, sort_keys=True).encode()).hexdigest()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_atomically(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def build_plan(
    onnx_path: Path,
    plan_path: Path,
    *,
    input_name: str,
    profiles: list[ShapeProfile],
    fp16: bool,
    timing_cache_path: Path,
) -> dict[str, Any]:
    """Build (or reuse) the plan for ``onnx_path``; return its record (also written beside it)."""
    trt = require_tensorrt()
    gpu = gpu_name()
    onnx_bytes = onnx_path.read_bytes()
    key = plan_key(hashlib.sha256(onnx_bytes).hexdigest(), profiles, fp16, trt.__version__, gpu)
    record_path = plan_path.with_name(plan_path.name + ".json")
    with _locked(plan_path.with_name(plan_path.name + ".lock")):
        if plan_path.is_file() and record_path.is_file() and json.loads(record_path.read_text()).get("key") == key:
            return dict(json.loads(record_path.read_text()))
        logger = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(logger)
        network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
        parser = trt.OnnxParser(network, logger)
        if not parser.parse(onnx_bytes):
            errors = "; ".join(str(parser.get_error(index)) for index in range(parser.num_errors))
            raise RuntimeError(f"TensorRT could not parse {onnx_path.name}: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
        if fp16:
            config.set_flag(trt.BuilderFlag.FP16)
        cache_bytes = timing_cache_path.read_bytes() if timing_cache_path.is_file() else b""
        timing_cache = config.create_timing_cache(cache_bytes)
        config.set_timing_cache(timing_cache, ignore_mismatch=False)
        for profile in profiles:
            optimisation = builder.create_optimization_profile()
            optimisation.set_shape(input_name, profile.minimum, profile.optimum, profile.maximum)
            config.add_optimization_profile(optimisation)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise RuntimeError(f"TensorRT failed to build a plan from {onnx_path.name} (see the log above)")
        _write_atomically(plan_path, bytes(serialized))
        _write_atomically(timing_cache_path, bytes(config.get_timing_cache().serialize()))
        record = {
            "key": key,
            "onnx": onnx_path.name,
            "precision": "fp16" if fp16 else "fp32",
            "tensorrt": trt.__version__,
            "gpu": gpu,
            "profiles": [asdict(profile) for profile in profiles],
        }
        _write_atomically(record_path, (json.dumps(record, indent=2) + "\n").encode())
        return record
