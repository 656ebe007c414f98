"""The build step `lumaflow serve` runs: which artefacts are missing, building them, and without torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lumaflow.build.repository import build_artifact, graph_sources, missing_artifacts
from lumaflow.ensemble.generate import write_repository
from lumaflow.ensemble.stages import CAMERA_X2_INT8, ESPCN_X2, STAGES
from lumaflow.ensemble.tuning import tuned

pytestmark = pytest.mark.build


def test_missing_then_built_then_stale_when_the_weights_change(tmp_path: Path) -> None:
    write_repository(tmp_path)
    neural = [stage for stage in STAGES.values() if stage.network is not None]
    assert [artifact.stage for artifact in missing_artifacts(tmp_path, list(STAGES.values()))] == neural
    (missing,) = missing_artifacts(tmp_path, [ESPCN_X2])
    assert missing.onnx_path == tmp_path / "espcn_x2" / "1" / "model.onnx"
    record = build_artifact(missing)
    assert missing.onnx_path.stat().st_size > 10_000
    assert record["parity_max_abs_diff"] <= 1
    assert missing_artifacts(tmp_path, [ESPCN_X2]) == []
    sidecar = json.loads(missing.sidecar_path.read_text())
    sidecar["weights_sha256"] = "0" * 64  # as if the committed weights had been retrained since
    missing.sidecar_path.write_text(json.dumps(sidecar))
    assert [artifact.stage for artifact in missing_artifacts(tmp_path, [ESPCN_X2])] == [ESPCN_X2]


def test_a_repository_without_neural_stages_needs_nothing(tmp_path: Path) -> None:
    assert missing_artifacts(tmp_path, list(STAGES.values())) == []


def test_serve_without_the_build_extra_says_what_to_install(tmp_path: Path) -> None:
    write_repository(tmp_path)
    blocked_torch = (
        "import sys; sys.modules['torch'] = None; "  # `import torch` now raises ImportError
        "from lumaflow.cli import main; "
        f"sys.exit(main(['serve', '--model-repository={tmp_path}', '--grpc-port=0', '--http-port=0', "
        "'--metrics-port=0']))"
    )
    result = subprocess.run([sys.executable, "-c", blocked_torch], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "lumaflow serve: error: ONNX graphs to build from their weights: espcn_x2, waifu2x_x2, srmd_x4, sr_x4, "
        "span_x2, span_x4, realesrgan_x4, waifu2x_dejpeg, deblock, ffdnet, refine, camera_sr_x2, camera_sr_x2_int8, "
        "camera_restore_x1, analysis, quality, noise_map, low_light, gated_inpainter, looks, damage, colorize; "
        "that needs the build extra: pip install -e '.[build]'"
    ]


def test_graph_sources_follow_the_architecture_and_its_imports_only() -> None:
    names = [path.name for path in graph_sources("espcn")]
    assert names == [
        "bicubic.py",
        "espcn.py",
        "pixels.py",
        "export.py",
        "denoise.py",
        "ncnn.py",
        "ncnn_convert.py",
        "ncnn_span.py",
        "registry.py",
        "arch_support.py",
        "supports_restorers.py",
        "supports_photo_tools.py",
    ]
    assert next(path.name for path in graph_sources("residual")) == "residual.py"


def test_the_openvino_int8_camera_graph_is_built_whole_and_stale_without_its_weights(tmp_path: Path) -> None:
    """Catches: an IR written without its .bin (or a .bin left stale), or quantised past the fp32 graph's quality."""
    write_repository(tmp_path)
    (missing,) = missing_artifacts(tmp_path, [CAMERA_X2_INT8])
    assert [path.name for path in missing.graph_paths] == ["model.xml", "model.bin"]
    record = build_artifact(missing)
    assert record["quantize"] == "openvino_int8" and record["quantization"]["kept_float"]  # the bicubic skip
    assert record["int8_min_psnr_vs_fp32_db"] == pytest.approx(51.1, abs=0.3)  # measured at build, 2026-12-04
    assert missing_artifacts(tmp_path, [CAMERA_X2_INT8]) == []
    missing.graph_paths[1].unlink()
    assert missing_artifacts(tmp_path, [CAMERA_X2_INT8]) == [missing]


def test_an_embedded_int8_stage_builds_its_ir_beside_the_fp32_graph_and_is_stale_without_it(tmp_path: Path) -> None:
    """Catches: the int8 IR not built (the embedded config would name a missing file), written without its .bin,
    or quantised past the fp32 graph's quality; and the fp32 graph the other targets serve not built with it."""
    stage = tuned(ESPCN_X2, {"precision": "int8"})
    write_repository(tmp_path)
    (missing,) = missing_artifacts(tmp_path, [stage])
    assert [path.name for path in missing.graph_paths] == ["model.onnx", "model_int8.xml", "model_int8.bin"]
    record = build_artifact(missing)
    assert record["embedded_int8"] == "model_int8.xml" and record["quantization"]["kept_float"]  # the bicubic skip
    assert record["int8_min_psnr_vs_fp32_db"] == pytest.approx(50.4, abs=0.3)  # measured at build, 2026-12-05
    assert record["parity_max_abs_diff"] <= 1  # the fp32 graph against torch
    assert missing_artifacts(tmp_path, [stage]) == []
    missing.graph_paths[2].unlink()
    assert missing_artifacts(tmp_path, [stage]) == [missing]
