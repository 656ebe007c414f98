"""TensorRT plans: profiles and cache keys everywhere; a real plan build where TensorRT imports."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from lumaflow.build.deploy import DEFAULT_REPOSITORY
from lumaflow.build.tensorrt import plan_key, profiles_for
from lumaflow.ensemble.stages import ESPCN_X2

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None
NO_TENSORRT = "tensorrt is not importable here (no GPU, and PyPI's wheels download from NVIDIA's index)"


@pytest.mark.unit
def test_profiles_cover_every_bucket_within_the_pixel_budget() -> None:
    profiles = profiles_for(ESPCN_X2)
    assert len(profiles) == 3
    assert profiles[0].minimum[1] == ESPCN_X2.size_buckets.ladder[0]
    assert profiles[-1].maximum[1] == ESPCN_X2.size_buckets.ladder[-1]
    for profile in profiles:
        for low, mid, high in zip(profile.minimum, profile.optimum, profile.maximum, strict=True):
            assert low <= mid <= high
        batch, height, width, channels = profile.maximum
        assert channels == 3 and 1 <= batch <= ESPCN_X2.max_batch_size
        assert batch == 1 or batch * height * width <= ESPCN_X2.max_batch_pixels
    covered = {side for p in profiles for side in ESPCN_X2.size_buckets.ladder if p.minimum[1] <= side <= p.maximum[1]}
    assert covered == set(ESPCN_X2.size_buckets.ladder)


@pytest.mark.unit
def test_the_plan_key_changes_with_every_ingredient() -> None:
    profiles = profiles_for(ESPCN_X2)
    base = plan_key("a" * 64, profiles, True, "10.5.0", "NVIDIA H100 80GB HBM3")
    assert base == plan_key("a" * 64, profiles, True, "10.5.0", "NVIDIA H100 80GB HBM3")
    assert base != plan_key("b" * 64, profiles, True, "10.5.0", "NVIDIA H100 80GB HBM3")
    assert base != plan_key("a" * 64, profiles[:1], True, "10.5.0", "NVIDIA H100 80GB HBM3")
    assert base != plan_key("a" * 64, profiles, False, "10.5.0", "NVIDIA H100 80GB HBM3")
    assert base != plan_key("a" * 64, profiles, True, "10.6.0", "NVIDIA H100 80GB HBM3")
    assert base != plan_key("a" * 64, profiles, True, "10.5.0", "NVIDIA H200")
    assert asdict(profiles[0])["maximum"][3] == 3


def _lumaflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "lumaflow"), *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.unit
@pytest.mark.skipif(HAS_TENSORRT, reason="TensorRT is installed here, so the missing-TensorRT path cannot be shown")
def test_without_tensorrt_the_build_says_so_in_one_line(tmp_path: Path) -> None:
    result = _lumaflow("build", "--engine", "tensorrt", f"--model-repository={tmp_path}")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "lumaflow build: error: TensorRT is not installed: build plans on a GPU machine inside the NGC "
        "tritonserver image (nvcr.io/nvidia/tritonserver:24.10-py3 ships the TensorRT that Triton 2.51 loads)"
    ]


@pytest.mark.unit
def test_tensorrt_never_overwrites_the_cpu_repository() -> None:
    result = _lumaflow("build", "--engine", "tensorrt", f"--model-repository={DEFAULT_REPOSITORY}")
    assert result.returncode == 1 and "pass --model-repository DIR for TensorRT" in result.stderr


@pytest.mark.build
@pytest.mark.skipif(not HAS_TENSORRT, reason=NO_TENSORRT)
def test_a_tensorrt_plan_is_built_for_espcn_x2_and_reused(tmp_path: Path) -> None:
    result = _lumaflow(
        "build", "--engine", "tensorrt", "--fp16", "--stages", "espcn_x2", f"--model-repository={tmp_path}"
    )
    assert result.returncode == 0, result.stderr
    plan = tmp_path / "espcn_x2" / "1" / "model.plan"
    assert plan.stat().st_size > 10_000
    assert 'backend: "tensorrt"' in (tmp_path / "espcn_x2" / "config.pbtxt").read_text()
    built_at = plan.stat().st_mtime_ns
    again = _lumaflow(
        "build", "--engine", "tensorrt", "--fp16", "--stages", "espcn_x2", f"--model-repository={tmp_path}"
    )
    assert again.returncode == 0 and plan.stat().st_mtime_ns == built_at
