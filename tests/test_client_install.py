"""The client alone: `pip install lumaflow` (no extras) in a fresh venv, and no torch or server code imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.build

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import sys
import lumaflow.client as client
client.LumaflowClient("127.0.0.1:1").close()
heavy = sorted(name for name in sys.modules if name.split(".")[0] in ("torch", "onnxruntime", "onnx", "jsonschema")
               or name.startswith(("lumaflow.server", "lumaflow.build")))
print("heavy:", heavy)
"""


def test_the_client_installs_alone_and_imports_no_torch(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(ROOT)], capture_output=True, text=True, timeout=600
    )
    assert install.returncode == 0, install.stderr[-2000:]
    installed = subprocess.run([str(python), "-m", "pip", "list"], capture_output=True, text=True, check=True).stdout
    assert "torch" not in installed and "nvidia-pytriton" not in installed and "onnxruntime" not in installed
    probe = subprocess.run([str(python), "-c", PROBE], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert probe.returncode == 0, probe.stderr[-2000:]
    assert probe.stdout.strip() == "heavy: []"
