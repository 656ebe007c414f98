"""The ``torch_cuda`` engine on the CPU (what ``make gpu-dry-run`` runs), its render target, its staging helpers,
and a reduced dry run of the GPU benchmark through a real tritonserver.

The engine runs the TorchScript artefact ``lumaflow.bench.gpu_artifacts`` exports; on the CPU it must give the
pixels of the stage's ONNX graph (within one level) on real photos, at two shapes, with the Engine protocol's names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lumaflow import contract
from lumaflow.bench import gpu_stage
from lumaflow.bench.gpu_artifacts import check_against_fp32, difference, export, photo_crops
from lumaflow.ensemble.config import InstanceKind
from lumaflow.ensemble.render import EMBEDDED, EmbeddedTorch, stage_config
from lumaflow.ensemble.stages import CAMERA_X2, FFDNET
from lumaflow.params import StageParams
from lumaflow.runtime.engines import ENGINES, EnginePolicy, open_engine


@pytest.fixture
def cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUMAFLOW_TORCH_DEVICE", "cpu")


@pytest.mark.build
def test_torch_engine_matches_the_onnx_graph(cpu: None, model_repository: Path, tmp_path: Path) -> None:
    artifact = export(CAMERA_X2, tmp_path, "cpu").path
    engine = open_engine("torch_cuda", artifact, EnginePolicy(threads=2))
    onnx = open_engine("onnxruntime", model_repository / CAMERA_X2.name / "1" / "model.onnx", EnginePolicy(threads=2))
    assert (engine.name, engine.version) == ("torch_cuda", torch.__version__)
    assert engine.input_names == (contract.PIXELS.name,) == onnx.input_names
    assert engine.output_names == (contract.UPSCALED.name,) == onnx.output_names
    shapes = set()
    for pixels in photo_crops():  # two shapes, batches of 2 and 1, each in its own engine call
        pixels.setflags(write=False)  # as Triton hands them over
        (got,) = engine.run({contract.PIXELS.name: pixels}, [contract.UPSCALED.name])
        expected = onnx.run({contract.PIXELS.name: pixels})[0]
        assert got.dtype == np.uint8 and got.shape == (pixels.shape[0], 2 * pixels.shape[1], 2 * pixels.shape[2], 3)
        assert difference(got, expected)["max_abs_diff"] <= 1
        shapes.add(pixels.shape)
    assert len(shapes) == 2


@pytest.mark.build
def test_fp16_artifact_stays_within_a_level(cpu: None, tmp_path: Path) -> None:
    """The cast a GPU export adds (fp16, channels-last, back to fp32 before rounding), checked on the CPU."""
    artifact = export(CAMERA_X2, tmp_path, "cpu", fp16=True).path
    worst = check_against_fp32(CAMERA_X2, artifact, "cpu")
    assert worst["max_abs_diff"] <= 1 and worst["psnr_db"] > 55


@pytest.mark.unit
def test_torch_target_renders_a_python_stage_on_the_torch_engine() -> None:
    assert "torch_cuda" in ENGINES
    config = stage_config(FFDNET, EmbeddedTorch(count=2))
    params = StageParams.from_parameters(config.parameters)
    embedded = StageParams.from_parameters(stage_config(FFDNET, EMBEDDED).parameters)
    assert config.backend == "python" and params.engine == "torch_cuda" and params.onnx_file == "model.ts"
    assert config.instance_groups[0].kind is InstanceKind.GPU and config.instance_groups[0].count == 2
    assert config.instance_groups[0].rate_limiter == FFDNET.instances.rate_limiter
    assert params.max_batch_pixels >= 8 * 1920 * 1080 > embedded.max_batch_pixels
    dry = stage_config(CAMERA_X2, EmbeddedTorch(kind=InstanceKind.CPU))
    assert dry.instance_groups[0].kind is InstanceKind.CPU and dry.dynamic_batching == CAMERA_X2.dynamic_batching


@pytest.mark.unit
def test_stage_helpers() -> None:
    assert gpu_stage._wheel_fits("numpy-1.26.4-cp312-cp312-manylinux_2_17_x86_64.whl", (3, 12))
    assert not gpu_stage._wheel_fits("numpy-1.26.4-cp312-cp312-manylinux_2_17_x86_64.whl", (3, 11))
    assert gpu_stage._wheel_fits("protobuf-4.25.9-cp37-abi3-manylinux2014_x86_64.whl", (3, 11))
    assert gpu_stage._wheel_fits("tritonclient-2.51.0-py3-none-any.whl", (3, 12))
    dirs = gpu_stage._package_dirs()
    assert dirs["lumaflow.runtime"] == "runtime" and dirs["lumaflow.bench"] == "bench"


@pytest.mark.served
def test_reduced_dry_run(cpu: None, model_repository: Path, tmp_path: Path) -> None:
    """``make gpu-dry-run`` cut down: the installed Triton, one level of each kind, one-second windows."""
    from lumaflow.bench.gpu_triton import Settings, run, strict_problems

    settings = Settings(
        device="cpu",
        out=tmp_path,
        frame=(160, 120),
        photo=(192, 128),
        levels=(4,),
        photo_clients=(1,),
        seconds=1.5,
        warm_s=0.5,
        budget_s=240.0,
        instances=1,
        check_onnx=False,
    )
    report = run(settings)
    assert not strict_problems(report), strict_problems(report)
    assert report["camera"]["batched"][0]["answered"] > 0 and (tmp_path / "gpu_triton.md").is_file()
