"""One interface for every engine that runs a stage's graph, and the registry that opens them by name.

A stage declaration names its engine (``lumaflow.ensemble.stages.Network.engine``, rendered into
``lumaflow.params.StageParams.engine``); the serving stage, the offline evaluation, the benchmarks
and the export parity checks all open graphs through ``open_engine``. Only the module of an engine
(``lumaflow.runtime.engines.<name>``) imports that engine's library, and the registry imports it on
first use, so a server without OpenVINO never loads it. A second engine is one new module here plus
its line in ``ENGINES``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class EnginePolicy:
    """How an engine may use the machine: threads, spinning, memory.

    ``threads``: intra-op threads of one call. ``spinning``: whether idle threads spin (stages share two
    cores, so an idle one must not). ``shrink_arena``: hand the memory arena back after each call (photo
    stages: otherwise every stage keeps the peak of its largest batch for good; camera stages keep it,
    since a frame's shape repeats).
    """

    threads: int = 1
    spinning: bool = False
    shrink_arena: bool = False


class Engine(Protocol):
    """An opened graph: named inputs in, its outputs out, one batch per call."""

    @property
    def name(self) -> str:
        """The engine's name in ``ENGINES`` (what INFO and reports say ran the graph)."""

    @property
    def version(self) -> str:
        """The engine library's version."""

    @property
    def input_names(self) -> tuple[str, ...]:
        """The graph's inputs, in order."""

    @property
    def output_names(self) -> tuple[str, ...]:
        """The graph's outputs, in order."""

    def run(self, feed: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None) -> list[np.ndarray]:
        """One call: ``outputs`` (default: all) for the arrays in ``feed``, in that order."""


class UnknownEngine(ValueError):
    """A declaration or a command named an engine this build does not have."""


# name -> "module:class"; each module imports its engine library itself.
ENGINES: dict[str, str] = {
    "onnxruntime": "lumaflow.runtime.engines.onnxruntime:OnnxRuntimeEngine",
    "openvino": "lumaflow.runtime.engines.openvino:OpenVinoEngine",
    "torch_cuda": "lumaflow.runtime.engines.torch_cuda:TorchCudaEngine",
}


def open_engine(kind: str, path: Path | str, policy: EnginePolicy | None = None) -> Engine:
    """Open the graph at ``path`` with the engine named ``kind`` under ``policy`` (default: one thread)."""
    try:
        module_name, class_name = ENGINES[kind].split(":")
    except KeyError:
        raise UnknownEngine(f"unknown engine {kind!r}; known: {', '.join(ENGINES)}") from None
    engine_class = getattr(importlib.import_module(module_name), class_name)
    engine: Engine = engine_class(Path(path), policy or EnginePolicy())
    return engine
