"""ONNX Runtime on the CPU: the engine every stage runs on today."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from lumaflow.runtime.engines import EnginePolicy


class OnnxRuntimeEngine:
    """One ``InferenceSession`` on the CPU execution provider, opened under an ``EnginePolicy``."""

    name = "onnxruntime"
    version = ort.__version__

    def __init__(self, path: Path, policy: EnginePolicy) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = policy.threads
        options.inter_op_num_threads = 1
        if not policy.spinning:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = path
        self.policy = policy
        self.session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        self.input_names = tuple(graph_input.name for graph_input in self.session.get_inputs())
        self.output_names = tuple(graph_output.name for graph_output in self.session.get_outputs())
        self.run_options = ort.RunOptions()
        if policy.shrink_arena:
            self.run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def run(self, feed: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None) -> list[np.ndarray]:
        names = list(outputs) if outputs is not None else list(self.output_names)
        return list(self.session.run(names, dict(feed), self.run_options))
