"""The CPU image built with podman and run as a cluster would run it (issue 29): ``make image`` + ``make image-check``.

Slow tier (two to three minutes to build, four to five to check): CI keeps its 30 minutes. It skips, with the
reason, only where podman cannot run containers (not installed, or not root).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import lumaflow
from lumaflow.cli import main
from lumaflow.loadtest import image_check
from lumaflow.loadtest.podman import podman_unusable

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def test_the_image_builds_here_and_serves_every_pipeline_as_the_host_does(tmp_path: Path) -> None:
    reason = podman_unusable()
    if reason:
        pytest.skip(reason)
    build = subprocess.run(["bash", "docker/image.sh", sys.executable], cwd=ROOT, capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert main(["build", "--export", str(tmp_path / "all")]) == 0
    assert main(["build", "--export", str(tmp_path / "one"), "--pipelines", "upscale_x2_fast"]) == 0
    out = tmp_path / "image-check.json"
    argv = ["--image", f"localhost/lumaflow:{lumaflow.__version__}", "--repository", str(tmp_path / "all")]
    argv += ["--replica-repository", str(tmp_path / "one"), "--windows", "2", "--window-s", "4", "--out", str(out)]
    code = image_check.main(argv)
    report = json.loads(out.read_text())
    failed = [check for check in report["checks"] if not check["ok"]]
    assert code == 0 and not failed, failed
    assert len(report["checks"]) == 14
