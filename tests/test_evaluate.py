"""`lumaflow eval`: a tiny benchmark run writes its report and strips, with sane numbers, offline and served."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from lumaflow.build.evaluate import main
from lumaflow.build.photos import BENCHMARK_PHOTOS, benchmark_photos
from lumaflow.cli import main as cli_main
from lumaflow.server.process import TritonServer

TINY = ["--photos", "1", "--crop", "64", "--sigmas", "25", "--qualities", "20", "--no-progress"]


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("eval")
    assert main([*TINY, "--out", str(out)]) == 0
    return out, json.loads((out / "report.json").read_text())


def _mean(report: dict[str, Any], task: str, level: str, method: str) -> dict[str, float]:
    return report["tasks"][task]["levels"][level]["methods"][method]["mean"]


@pytest.mark.unit
def test_the_benchmark_has_its_eight_photos() -> None:
    photos = benchmark_photos()
    assert tuple(photos) == BENCHMARK_PHOTOS and len(photos) == 8
    assert all(
        p.dtype == np.uint8 and p.ndim == 3 and p.shape[2] == 3 and min(p.shape[:2]) >= 256 for p in photos.values()
    )


@pytest.mark.build
def test_a_tiny_run_writes_the_report_and_strips(offline: tuple[Path, dict[str, Any]]) -> None:
    out, report = offline
    assert report["mode"] == "offline"
    assert report["machine"]["cpu_count"] >= 1 and report["machine"]["onnxruntime"]
    assert set(report["tasks"]) == {"x2", "x4", "denoise", "dejpeg", "camera_x2", "camera_x1", "lowlight"}
    markdown = (out / "report.md").read_text()
    for heading in ("## x2", "## x4", "## denoise", "## dejpeg", "upscale_x4_realistic", "denoise_estimated"):
        assert heading in markdown
    for heading in ("## camera_x2", "## camera_x1", "camera_x2_int8", "best_gamma", "dejpeg_waifu2x", "## lowlight"):
        assert heading in markdown
    strips = sorted(path.name for path in (out / "strips").iterdir())
    assert strips == [
        "camera_x1_astronaut_ev+0.7.png",
        "camera_x1_astronaut_ev-1.5.png",
        "camera_x1_astronaut_ev-2.5.png",
        "camera_x1_astronaut_ev0.png",
        "camera_x2_astronaut_camera.png",
        "camera_x2_astronaut_clean.png",
        "dejpeg_astronaut_q20.png",
        "denoise_astronaut_sigma25.png",
        "lowlight_astronaut_ev-1.5.png",
        "lowlight_astronaut_ev-2.5.png",
        "lowlight_astronaut_ev-3.5.png",
        "lowlight_astronaut_gamma2.5.png",
        "x2_astronaut_x2.png",
        "x4_astronaut_x4.png",
    ]
    with Image.open(out / "strips" / "x4_astronaut_x4.png") as strip:
        assert strip.size == (4 * 64 + 3 * 4, 64)  # four 64 px panels (the crop is under 128 px) and gaps


@pytest.mark.build
def test_the_numbers_are_sane(offline: tuple[Path, dict[str, Any]]) -> None:
    _, report = offline
    x2, bicubic = _mean(report, "x2", "x2", "upscale_x2"), _mean(report, "x2", "x2", "bicubic")
    assert x2["psnr"] > bicubic["psnr"] and x2["ssim"] > bicubic["ssim"]
    assert x2["gain_db"] == pytest.approx(x2["psnr"] - bicubic["psnr"])
    assert x2["s_per_megapixel"] > 0
    denoised, noisy = _mean(report, "denoise", "sigma25", "denoise"), _mean(report, "denoise", "sigma25", "noisy")
    assert denoised["psnr"] > noisy["psnr"] + 5
    assert _mean(report, "denoise", "sigma25", "denoise_estimated")["psnr"] > noisy["psnr"] + 5
    assert _mean(report, "dejpeg", "q20", "dejpeg")["psnr"] > _mean(report, "dejpeg", "q20", "jpeg")["psnr"]
    assert (
        _mean(report, "lowlight", "ev-2.5", "lowlight")["psnr"] > _mean(report, "lowlight", "ev-2.5", "input")["psnr"]
    )
    photos = report["tasks"]["x4"]["levels"]["x4"]["methods"]["upscale_x4"]["photos"]
    assert set(photos) == {"astronaut"} and 0 < photos["astronaut"]["ssim"] <= 1


@pytest.mark.served
def test_the_served_pipelines_score_as_offline(
    server: TritonServer, offline: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    _, report = offline
    args = [*TINY, "--tasks", "x2", "--url", server.endpoints.grpc_url, "--out", str(tmp_path)]
    assert cli_main(["eval", *args]) == 0
    served = json.loads((tmp_path / "report.json").read_text())
    assert served["mode"] == "url" and set(served["tasks"]) == {"x2"}
    for method in ("upscale_x2", "upscale_x2_fast"):
        assert _mean(served, "x2", "x2", method)["psnr"] == pytest.approx(
            _mean(report, "x2", "x2", method)["psnr"], abs=0.05
        )
