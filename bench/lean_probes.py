"""The probe models' repository for ``python -m lumaflow.bench.lean --probes`` (``lumaflow.bench.lean_probe_models``).

Written beside the pipeline's models in the benchmark's scratch repository, from the stage's own rendered config
and built graph, so the probes run what the pipeline's network stage runs. Their configs are plain: one
instance, dynamic batching without delay or queue policy, the photo stubs' niceness.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from lumaflow import contract
from lumaflow.contract import DataType, Tensor
from lumaflow.ensemble.config import DynamicBatching, EnsembleStep, InstanceGroup, ModelConfig
from lumaflow.ensemble.render import render, stage_config
from lumaflow.ensemble.stages import PHOTO_NICE, Stage
from lumaflow.params import CPU_NICE_PARAMETER

ANSWER_FILE = "answer.png"  # ConstantProbe's answer, in its version folder
NOISE_LEVEL_PARAMETER = "noise_level"  # what the engine probes tell a stage with a noise-level input
DONE = "DONE"  # the first step's PNG, carried past the pass-through steps
CONSTANT, WHOLE, CHAIN = "lean_probe_constant", "lean_probe_whole", "lean_probe_chain"
PROBES = (CONSTANT, WHOLE, CHAIN)  # what a caller calls
FIRST, PASS_A, PASS_B, LAST = "lean_probe_first", "lean_probe_pass_a", "lean_probe_pass_b", "lean_probe_last"
DONE_TENSOR = Tensor(DONE, DataType.STRING, (1,), "the PNG, carried past the pass-through steps")
REQUEST = (contract.IMAGE, replace(contract.OPTIONS, optional=True))
ANSWER = (contract.ENHANCED, contract.INFO)
CARRIED = (contract.PIXELS, contract.META)


def _python_model(name: str, inputs: tuple[Tensor, ...], outputs: tuple[Tensor, ...], **parameters: str) -> ModelConfig:
    return ModelConfig(
        name=name,
        max_batch_size=8,
        inputs=inputs,
        outputs=outputs,
        backend="python",
        instance_groups=(InstanceGroup(count=1),),
        dynamic_batching=DynamicBatching(),
        parameters={CPU_NICE_PARAMETER: str(PHOTO_NICE), **parameters},
    )


def _write(root: Path, config: ModelConfig, implementation: str | None) -> Path:
    version = root / config.name / "1"
    version.mkdir(parents=True)
    (root / config.name / "config.pbtxt").write_text(render(config))
    if implementation is not None:
        entry = f"from lumaflow.bench.lean_probe_models import {implementation} as TritonPythonModel\n"
        (version / "model.py").write_text(
            f'"""A lean-benchmark probe."""\n\n{entry}\n__all__ = ["TritonPythonModel"]\n'
        )
    return version


def _chain() -> ModelConfig:
    def step(model: str, inputs: dict[str, str], outputs: dict[str, str]) -> EnsembleStep:
        return EnsembleStep(model_name=model, input_map=inputs, output_map=outputs)

    carried = {"PIXELS": "pixels_{}", "META": "meta_{}"}
    steps = (
        step(
            FIRST,
            {"IMAGE": "IMAGE", "OPTIONS": "OPTIONS"},
            {DONE: "done", **{k: v.format(0) for k, v in carried.items()}},
        ),
        step(PASS_A, {k: v.format(0) for k, v in carried.items()}, {k: v.format(1) for k, v in carried.items()}),
        step(PASS_B, {k: v.format(1) for k, v in carried.items()}, {k: v.format(2) for k, v in carried.items()}),
        step(
            LAST,
            {DONE: "done", **{k: v.format(2) for k, v in carried.items()}},
            {"ENHANCED": "ENHANCED", "INFO": "INFO"},
        ),
    )
    return ModelConfig(
        name=CHAIN, platform="ensemble", max_batch_size=8, inputs=REQUEST, outputs=ANSWER, ensemble_steps=steps
    )


def write_probes(root: Path, repository: Path, stage: Stage, answer_png: bytes, noise_level: float) -> tuple[str, ...]:
    """The probes of ``stage`` in ``root`` (a scratch repository), its graph taken from ``repository``; the
    constant probe answers ``answer_png``. Returns the models a caller calls."""
    embedded = stage_config(stage).parameters
    level = {NOISE_LEVEL_PARAMETER: repr(noise_level)}
    _write(root, _python_model(CONSTANT, REQUEST, ANSWER), "ConstantProbe").joinpath(ANSWER_FILE).write_bytes(
        answer_png
    )
    engines = (
        (_python_model(WHOLE, REQUEST, ANSWER, **embedded, **level), "WholeProbe"),
        (_python_model(FIRST, REQUEST, (DONE_TENSOR, *CARRIED), **embedded, **level), "FirstStepProbe"),
    )
    network = stage.network
    if network is None:
        raise ValueError(f"stage {stage.name!r} has no network to probe")
    for config, implementation in engines:
        version = _write(root, config, implementation)
        for name in network.graph_files:
            shutil.copy2(repository / stage.name / "1" / name, version / name)
    _write(root, _python_model(PASS_A, CARRIED, CARRIED), "PassProbe")
    _write(root, _python_model(PASS_B, CARRIED, CARRIED), "PassProbe")
    _write(root, _python_model(LAST, (DONE_TENSOR, *CARRIED), ANSWER), "LastStepProbe")
    _write(root, _chain(), None)
    return PROBES
