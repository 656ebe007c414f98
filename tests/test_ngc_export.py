"""Exported repositories (issues 11 and 29): for NVIDIA's Triton image and for our own, from the same declarations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as pb

from lumaflow.build.deploy import DEFAULT_REPOSITORY, EXPORT_MANIFEST, verify_export
from lumaflow.cli import main
from lumaflow.ensemble.config import InstanceKind
from lumaflow.ensemble.generate import stale_files
from lumaflow.ensemble.render import NgcOnnxRuntime
from lumaflow.ensemble.stages import STAGES
from lumaflow.server.distribution import ROOT_VARIABLE, ServeError, TritonDistribution
from lumaflow.server.endpoints import free_endpoints, is_remote
from lumaflow.server.options import ServerOptions
from lumaflow.server.process import TritonServer
from tests.fixtures import FAST_MODELS, FAST_PIPELINE


def config(path: Path) -> pb.ModelConfig:
    return text_format.Parse(path.read_text(), pb.ModelConfig())


@pytest.mark.served
@pytest.mark.parametrize(("target", "kind"), [("ngc-cpu", "KIND_CPU"), ("ngc-gpu", "KIND_GPU")])
def test_export_writes_a_complete_repository_for_the_native_backends(
    server: TritonServer, tmp_path: Path, target: str, kind: str
) -> None:  # `server`: the session's build has exported every ONNX graph the export copies
    out = tmp_path / "repository"
    assert main(["build", "--target", target, "--export", str(out)]) == 0
    instance_kind = InstanceKind.CPU if target == "ngc-cpu" else InstanceKind.GPU
    assert stale_files(out, NgcOnnxRuntime(kind=instance_kind)) == []
    networks = [stage for stage in STAGES.values() if stage.network is not None]
    assert len(networks) >= 15
    for stage in networks:
        stage_config = config(out / stage.name / "config.pbtxt")
        graph = out / stage.name / "1" / stage_config.default_model_filename
        assert graph.stat().st_size > 1000
        if stage.network.is_openvino_ir:  # Triton's openvino backend, on the CPU, with the IR's weights beside it
            assert stage_config.backend == "openvino", stage.name
            assert pb.ModelInstanceGroup.Kind.Name(stage_config.instance_group[0].kind) == "KIND_CPU"
            assert graph.with_suffix(".bin").stat().st_size > 1000
            continue
        assert stage_config.backend == "onnxruntime", stage.name
        assert pb.ModelInstanceGroup.Kind.Name(stage_config.instance_group[0].kind) == kind
    assert config(out / "upscale_x2" / "config.pbtxt").platform == "ensemble"
    for python_model in ("upscale_x2_decode", "espcn_x2_tiles", "encode", "photo_route"):
        assert config(out / python_model / "config.pbtxt").backend == "python"
        assert (out / python_model / "1" / "model.py").is_file()


@pytest.mark.unit
def test_export_is_a_copy_and_native_targets_need_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--target", "ngc-cpu"]) == 1
    assert capsys.readouterr().err == "lumaflow build: error: --target ngc-cpu needs --export DIR\n"
    assert main(["build", "--export", str(DEFAULT_REPOSITORY)]) == 1
    assert "name a folder other than this checkout's model_repository" in capsys.readouterr().err
    assert main(["build", "--engine", "tensorrt", "--export", str(tmp_path / "x")]) == 1
    assert "--export writes ONNX repositories" in capsys.readouterr().err


@pytest.mark.unit
def test_build_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--stages", "no_such_stage"]) == 1
    assert capsys.readouterr().err.startswith("lumaflow build: error: unknown stage(s) no_such_stage; declared: ")
    assert main(["build", f"--model-repository={tmp_path / 'nowhere'}"]) == 1
    assert capsys.readouterr().err == (
        f"lumaflow build: error: model repository {tmp_path / 'nowhere'} does not exist "
        "(lumaflow generate --model-repository DIR)\n"
    )


@pytest.mark.unit
def test_object_store_repositories_go_to_triton_as_urls() -> None:
    assert is_remote("s3://bucket/models") and is_remote("gs://bucket/models") and not is_remote("/srv/models")
    remote = TritonServer(options=ServerOptions("s3://bucket/lumaflow"))
    assert remote.model_repository == "s3://bucket/lumaflow"  # not a Path: "s3://" would collapse to "s3:/"
    assert "--model-repository=s3://bucket/lumaflow" in remote.argv()
    remote.cleanup()


@pytest.mark.unit
def test_an_installed_triton_is_used_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "tritonserver").write_text("")
    monkeypatch.setenv(ROOT_VARIABLE, str(tmp_path))
    installed = TritonDistribution.locate()
    assert not installed.bundled and installed.binary == tmp_path / "bin" / "tritonserver"
    assert installed.backend_directory(tmp_path / "work") == tmp_path / "backends"  # nothing copied
    assert not (tmp_path / "work").exists()
    monkeypatch.setenv(ROOT_VARIABLE, str(tmp_path / "absent"))
    with pytest.raises(ServeError, match="no bin/tritonserver"):
        TritonDistribution.locate()


@pytest.mark.served
def test_an_export_of_one_pipeline_is_served_only_when_complete(
    server: TritonServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # `server`: the session's build has exported every ONNX graph the export copies
    out = tmp_path / "x2fast"
    assert main(["build", "--export", str(out), "--pipelines", FAST_PIPELINE]) == 0
    assert {folder.name for folder in out.iterdir() if folder.is_dir()} == {*FAST_MODELS, "analysis", "progress"}
    manifest = json.loads((out / EXPORT_MANIFEST).read_text())
    assert manifest["target"] == "cpu" and manifest["files"]["espcn_x2/1/model.onnx"] > 1000
    assert verify_export(out) and not verify_export(DEFAULT_REPOSITORY)
    capsys.readouterr()
    (out / "espcn_x2" / "1" / "model.onnx").unlink()
    ports = free_endpoints()
    argv = ["serve", "--model-repository", str(out), "--grpc-port", str(ports.grpc_port)]
    argv += ["--http-port", str(ports.http_port), "--metrics-port", str(ports.metrics_port)]
    assert main(argv) == 1  # before any model loads, in one line: no weights, no torch needed in a container
    assert capsys.readouterr().err == (
        f"lumaflow serve: error: the exported repository {out} is incomplete: espcn_x2/1/model.onnx (missing)\n"
    )
    assert main(["build", "--export", str(tmp_path / "y"), "--pipelines", "no_such_pipeline"]) == 1
    assert not (tmp_path / "y").exists()
