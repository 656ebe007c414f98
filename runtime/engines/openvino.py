"""OpenVINO on the CPU: the second engine, chosen per stage where it measures faster (issue 26).

The ONNX graph is compiled for the CPU plugin as it is (no conversion step, no IR files to keep in step with
the graph). Settings, each for a reason:

- ``INFERENCE_PRECISION_HINT: f32``: on a CPU with AVX512_BF16 (these EPYCs) the plugin otherwise runs
  float graphs in bfloat16, which moves outputs by more than one level; an engine swap must not change what
  a client gets. An int8 graph keeps its quantised operations whatever this says.
- ``INFERENCE_NUM_THREADS`` = the policy's threads, one stream, the ``LATENCY`` hint: stages share two cores,
  each call is one batch Triton formed, and more streams would only split the same threads.
- ``ENABLE_CPU_PINNING: False``: several stubs share the cores; pinned threads would fight over them.

``EnginePolicy.spinning`` and ``shrink_arena`` have no OpenVINO counterpart (its threads sleep when idle, and it
keeps no growing arena per shape the way ONNX Runtime does); they are accepted and do nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import openvino as ov

from lumaflow.runtime.engines import EnginePolicy


def compile_config(policy: EnginePolicy) -> dict[str, object]:
    """The CPU plugin's settings for a stage run under ``policy``."""
    return {
        "INFERENCE_PRECISION_HINT": "f32",
        "INFERENCE_NUM_THREADS": policy.threads,
        "NUM_STREAMS": 1,
        "PERFORMANCE_HINT": "LATENCY",
        "ENABLE_CPU_PINNING": False,
    }


class OpenVinoEngine:
    """One compiled model and one infer request on the CPU plugin, opened under an ``EnginePolicy``."""

    name = "openvino"
    version = ov.__version__

    def __init__(self, path: Path, policy: EnginePolicy) -> None:
        self.path = path
        self.policy = policy
        self.compiled = ov.Core().compile_model(str(path), "CPU", compile_config(policy))
        self.request = self.compiled.create_infer_request()
        self.input_names = tuple(port.get_any_name() for port in self.compiled.inputs)
        self.output_names = tuple(port.get_any_name() for port in self.compiled.outputs)
        self._lock = threading.Lock()  # one infer request: calls from several threads take turns

    def run(self, feed: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None) -> list[np.ndarray]:
        names = list(outputs) if outputs is not None else list(self.output_names)
        unknown = [name for name in names if name not in self.output_names]
        if unknown:
            raise KeyError(f"{self.path}: no output named {', '.join(unknown)}")
        with self._lock:
            results = self.request.infer({name: np.ascontiguousarray(array) for name, array in feed.items()})
            # The request reuses its output buffers on the next call: copy out what this call returns.
            return [np.array(results[self.compiled.output(name)], copy=True) for name in names]
