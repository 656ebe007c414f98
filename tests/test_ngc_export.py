"""The repository for NVIDIA's Triton image (issue 11): exported from the same declarations, run by its own Triton."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as pb

from lumaflow.cli import main
from lumaflow.ensemble.config import InstanceKind
from lumaflow.ensemble.generate import stale_files
from lumaflow.ensemble.render import NgcOnnxRuntime
from lumaflow.ensemble.stages import STAGES
from lumaflow.server.distribution import ROOT_VARIABLE, ServeError, TritonDistribution
from lumaflow.server.endpoints import is_remote
from lumaflow.server.options import ServerOptions
from lumaflow.server.process import TritonServer


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
        assert stage_config.backend == "onnxruntime", stage.name
        assert pb.ModelInstanceGroup.Kind.Name(stage_config.instance_group[0].kind) == kind
        assert (out / stage.name / "1" / stage_config.default_model_filename).stat().st_size > 1000
    assert config(out / "upscale_x2" / "config.pbtxt").platform == "ensemble"
    for python_model in ("upscale_x2_decode", "espcn_x2_tiles", "encode", "photo_route"):
        assert config(out / python_model / "config.pbtxt").backend == "python"
        assert (out / python_model / "1" / "model.py").is_file()


@pytest.mark.unit
def test_export_needs_a_native_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--export", str(tmp_path / "x")]) == 1
    assert "--target ngc-cpu or ngc-gpu" in capsys.readouterr().err


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
