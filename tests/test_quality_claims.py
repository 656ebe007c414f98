"""The figures docs/quality.md reports on the test photos hold: each headline gain, recomputed here on the same
photos with the same seeds, is within 0.3 dB of the committed report (docs/quality/test-report.json, written by
``lumaflow eval --set test``). A regression of a pipeline fails here, not only a collapse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lumaflow.build.evaluate import main

pytestmark = pytest.mark.build

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "quality" / "test-report.json"
TOLERANCE_DB = 0.3

# (task, level, pipeline): the claims of the README and docs/quality.md's headline table.
CLAIMS = (
    ("x2", "x2", "upscale_x2"),
    ("x2", "x2", "upscale_x2_fast"),  # served int8 since 2026-12-05
    ("x4", "x4", "upscale_x4"),
    ("x4", "x4", "upscale_x4_fast"),
    ("dejpeg", "q10", "dejpeg"),
    ("dejpeg", "q30", "dejpeg"),
    ("denoise", "sigma25", "denoise"),
    ("camera_x2", "clean", "camera_x2"),
)


def _gains(report: dict[str, Any], task: str, level: str, method: str) -> dict[str, float]:
    entry = report["tasks"][task]
    methods = entry["levels"][level]["methods"]
    reference = methods[entry["reference"]]["photos"]
    return {name: p["psnr"] - reference[name]["psnr"] for name, p in methods[method]["photos"].items()}


@pytest.fixture(scope="module")
def rerun(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("claims")
    tasks = sorted({task for task, _, _ in CLAIMS})
    only = ",".join(sorted({method for _, _, method in CLAIMS}))
    args = ["--set", "test", "--tasks", ",".join(tasks), "--sigmas", "25", "--qualities", "10,30", "--only", only]
    assert main([*args, "--no-progress", "--out", str(out)]) == 0
    return json.loads((out / "report.json").read_text())


@pytest.mark.parametrize(("task", "level", "method"), CLAIMS, ids=[f"{m}-{lv}" for _, lv, m in CLAIMS])
def test_the_reported_gain_holds(rerun: dict[str, Any], task: str, level: str, method: str) -> None:
    committed = _gains(json.loads(REPORT.read_text()), task, level, method)
    now = _gains(rerun, task, level, method)
    assert set(now) == set(committed) and len(now) >= 24
    reported, measured = float(np.mean(list(committed.values()))), float(np.mean(list(now.values())))
    assert measured == pytest.approx(reported, abs=TOLERANCE_DB), f"{method} {level}: {measured:+.2f} dB now"
