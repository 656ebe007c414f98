"""PyTorch on a CUDA GPU (or on the CPU, for a dry run): a TorchScript artefact, fp16, channels-last, CUDA graphs.

The artefact is what ``lumaflow.bench.gpu_artifacts`` writes on the machine that serves it: a TorchScript
archive of the stage's served graph (uint8 NHWC in and out, the float conversion, the fp16 cast, the
channels-last layout and the rounding all inside it), with its tensor names in the archive's extra file
``lumaflow.json`` (``{"inputs": [...], "outputs": [...], "device": ..., "dtype": ...}``). Serving never
imports ``lumaflow.build``: the archive holds the code.

Where it runs: ``$LUMAFLOW_TORCH_DEVICE`` (``cuda``, ``cuda:1``, ``cpu``), by default ``cuda`` when torch
sees a GPU and ``cpu`` otherwise. An environment variable rather than an ``EnginePolicy`` field, because
Triton's python backend passes its environment to every stub: one setting reaches every stage, and a test or
a dry run sets ``cpu`` without re-rendering a config.

On CUDA each input shape (shapes and dtypes of all inputs, the batch axis included) gets a CUDA graph,
captured on first sight (after warm-up calls on a side stream, which let cuDNN pick its algorithms) and
replayed after that: one launch instead of one per layer. At most ``$LUMAFLOW_TORCH_CUDA_GRAPHS`` shapes
(default 16) keep a graph, the least recently used given up first; 0 runs every call eagerly, and a
shape whose capture fails runs eagerly for good. All graphs of one engine share one memory pool: they
run one at a time and each call's outputs are copied to the host before the next. On the CPU: plain
eager calls on ``policy.threads`` threads.
"""

from __future__ import annotations

import json
import os
import warnings
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

# Stages share the cores: an idle stage's OpenMP threads must not spin (ONNX Runtime's stages run with spinning
# off, ``EnginePolicy.spinning``). OpenMP reads this once, when torch loads it, so it is set before the import.
# Measured on the 2-core machine: a batched camera stage's queue fell from 56 to 5 ms a frame at one stream.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

from lumaflow.runtime.engines import EnginePolicy

DEVICE_VARIABLE = "LUMAFLOW_TORCH_DEVICE"
GRAPHS_VARIABLE = "LUMAFLOW_TORCH_CUDA_GRAPHS"
DEFAULT_GRAPHS = 16
META_FILE = "lumaflow.json"  # the extra file inside the TorchScript archive that names its tensors
WARMUP_CALLS = 3  # before a capture: cuDNN's benchmark and lazy initialisation happen outside the graph

Key = tuple[tuple[tuple[int, ...], str], ...]


def default_device() -> str:
    """``$LUMAFLOW_TORCH_DEVICE``, else ``cuda`` when torch sees a GPU, else ``cpu``."""
    chosen = os.environ.get(DEVICE_VARIABLE, "").strip()
    if chosen:
        return chosen
    return "cuda" if torch.cuda.is_available() else "cpu"


def read_metadata(path: Path | str) -> dict[str, object]:
    """The ``lumaflow.json`` extra file of a TorchScript archive (empty when it has none)."""
    extra = {META_FILE: ""}
    torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    text = extra[META_FILE]
    return json.loads(text) if text else {}


def _as_tuple(result: object) -> tuple[torch.Tensor, ...]:
    if isinstance(result, torch.Tensor):
        return (result,)
    if isinstance(result, (tuple, list)):
        return tuple(result)
    raise TypeError(f"a TorchScript stage returns tensors, got {type(result).__name__}")


def _tensor(array: np.ndarray) -> torch.Tensor:
    """``array`` as a tensor sharing its memory; Triton's inputs are read-only, and nothing here writes them."""
    if array.flags.writeable:
        return torch.from_numpy(array)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "The given NumPy array is not writable"
        return torch.from_numpy(array)


class _Captured:
    """One CUDA graph of the module at one input shape, with its static input and output tensors."""

    def __init__(self, module: torch.jit.ScriptModule, inputs: Sequence[torch.Tensor], pool: Any) -> None:
        self.inputs = [tensor.clone() for tensor in inputs]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(WARMUP_CALLS):
                module(*self.inputs)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph, pool=pool):
            self.outputs = _as_tuple(module(*self.inputs))

    def replay(self, arrays: Sequence[np.ndarray]) -> tuple[torch.Tensor, ...]:
        for static, array in zip(self.inputs, arrays, strict=True):
            static.copy_(_tensor(array))
        self.graph.replay()
        return self.outputs


class TorchCudaEngine:
    """A TorchScript stage graph on ``$LUMAFLOW_TORCH_DEVICE``: CUDA graphs per input shape on a GPU, eager on CPU."""

    name = "torch_cuda"
    version = torch.__version__

    def __init__(self, path: Path, policy: EnginePolicy) -> None:
        self.path = path
        self.policy = policy
        self.device = torch.device(default_device())
        extra = {META_FILE: ""}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated, still the archive here
            self.module = torch.jit.load(str(path), map_location=self.device, _extra_files=extra)
        self.module.eval()
        metadata = json.loads(extra[META_FILE]) if extra[META_FILE] else {}
        if not metadata.get("inputs") or not metadata.get("outputs"):
            raise ValueError(f"{path} names no tensors ({META_FILE}): export it with lumaflow.bench.gpu_artifacts")
        self.metadata = metadata
        self.input_names = tuple(str(name) for name in metadata["inputs"])
        self.output_names = tuple(str(name) for name in metadata["outputs"])
        cuda = self.device.type == "cuda"
        if cuda:
            torch.backends.cudnn.benchmark = True  # shapes repeat (frames, tiles): pick the fastest algorithm once
        else:
            torch.set_num_threads(max(1, policy.threads))
        self.max_graphs = int(os.environ.get(GRAPHS_VARIABLE, DEFAULT_GRAPHS)) if cuda else 0
        self.pool = torch.cuda.graph_pool_handle() if self.max_graphs > 0 else None
        self.graphs: OrderedDict[Key, _Captured] = OrderedDict()
        self.eager_only: set[Key] = set()  # shapes whose capture failed
        self.captures = 0

    def run(self, feed: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None) -> list[np.ndarray]:
        names = list(outputs) if outputs is not None else list(self.output_names)
        missing = [name for name in self.input_names if name not in feed]
        if missing:
            raise KeyError(f"{self.path.name} needs inputs {missing}")
        arrays = [np.ascontiguousarray(feed[name]) for name in self.input_names]
        # No JIT re-optimisation between calls: a graph captured after warm-up stays the graph that runs.
        with torch.inference_mode(), torch.jit.optimized_execution(False):
            if self.device.type == "cuda":
                results = self._run_cuda(arrays)
            else:
                results = _as_tuple(self.module(*(_tensor(array) for array in arrays)))
            return [results[self.output_names.index(name)].cpu().numpy() for name in names]

    def _run_cuda(self, arrays: Sequence[np.ndarray]) -> tuple[torch.Tensor, ...]:
        key: Key = tuple((tuple(array.shape), array.dtype.str) for array in arrays)
        captured = self.graphs.get(key)
        if captured is not None:
            self.graphs.move_to_end(key)
            return captured.replay(arrays)
        inputs = [_tensor(array).to(self.device) for array in arrays]
        if self.max_graphs > 0 and key not in self.eager_only:
            try:
                captured = _Captured(self.module, inputs, self.pool)
            except RuntimeError:  # an op that cannot be captured: this shape stays eager
                torch.cuda.synchronize()
                self.eager_only.add(key)
            else:
                self.captures += 1
                self.graphs[key] = captured
                while len(self.graphs) > self.max_graphs:
                    self.graphs.popitem(last=False)
                return captured.replay(arrays)
        return _as_tuple(self.module(*inputs))
