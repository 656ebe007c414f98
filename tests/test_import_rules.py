"""tools/check_imports.py: the allowed import graph of docs/ARCHITECTURE.md, enforced over every .py file.

A synthetic tree plants one crossing per rule (lazy, relative, TYPE_CHECKING and a serving stub among them)
and the checker must find exactly those; a copy of the real repository with two planted imports must fail on
those two lines.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytestmark = pytest.mark.unit

REPOSITORY = Path(__file__).resolve().parent.parent
CHECKER = REPOSITORY / "tools" / "check_imports.py"


def load_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_imports", CHECKER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


checker = load_checker()


def run_checker(root: Path) -> tuple[int, list[dict[str, Any]]]:
    """Run the script as `make lint` does, with --json; its exit status and crossings."""
    done = subprocess.run(
        [sys.executable, str(CHECKER), str(root), "--json"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    assert report["count"] == len(report["crossings"])
    return done.returncode, report["crossings"]


PYPROJECT = """\
[project]
name = "fake"

[tool.setuptools]
packages = ["lumaflow"]
package-dir = { "lumaflow" = "lumaflow", "lumaflow.client" = "client", "lumaflow.ensemble" = "ensemble", \
"lumaflow.build" = "build", "lumaflow.bench" = "bench", "lumaflow.loadtest" = "loadtest", \
"lumaflow.runtime" = "runtime", "lumaflow.server" = "server", "lumaflow.web" = "web" }
"""

# A line ending in `# planted: <words of the rule>` crosses that rule; every other line is allowed. The clean
# tree is the same files without the planted lines.
TREE: dict[str, str] = {
    "lumaflow/__init__.py": """\
from lumaflow.contract import VERSION as __version__
from lumaflow.params import SizeBuckets  # planted: the root package imports only contract
""",
    "lumaflow/contract.py": """\
from __future__ import annotations
import enum
from dataclasses import dataclass
import numpy  # planted: contract and params import the standard library only
VERSION = "0"
""",
    "lumaflow/params.py": """\
import json
from lumaflow import contract  # planted: contract and params import the standard library only
""",
    "lumaflow/cli.py": """\
import torch
import lumaflow
from lumaflow.build import photos
from lumaflow.server import triton
from lumaflow.loadtest import perf
from lumaflow.bench import gpu
""",
    "lumaflow/extra.py": """\
import os  # planted: every module of ours belongs to a room
""",
    "ensemble/__init__.py": "",
    "ensemble/config.py": """\
import numpy
import torch  # planted: engine libraries are imported only by lumaflow.runtime.engines.<name>
""",
    "ensemble/stages.py": """\
from lumaflow.contract import VERSION
from lumaflow.params import SizeBuckets
from lumaflow import params
from .config import numpy
from . import config
from ..client import core  # planted: declarations import only contract and params of ours
""",
    "runtime/__init__.py": "",
    "runtime/imaging.py": """\
from __future__ import annotations
from typing import TYPE_CHECKING
import PIL.Image
from lumaflow.runtime.engines import EnginePolicy, open_engine
from lumaflow.runtime import engines
from . import crops
from lumaflow.params import SizeBuckets
if TYPE_CHECKING:
    pass
    from lumaflow.ensemble.stages import Stage  # planted: the runtime imports only contract, params and itself
def lazy() -> None:
    import json
    import onnxruntime  # planted: engine libraries are imported only by lumaflow.runtime.engines.<name>
""",
    "runtime/crops.py": """\
import importlib
def later() -> None:
    importlib.import_module("lumaflow.runtime.engines")
    importlib.import_module("lumaflow.build.photos")  # planted: the runtime imports only contract
""",
    "runtime/direct.py": """\
from lumaflow.runtime.engines import onnxruntime  # planted: engine modules are reached through the registry
""",
    "runtime/folders.py": """\
from client import core  # planted: never by a repository folder's path
""",
    "runtime/engines/__init__.py": """\
import importlib
from dataclasses import dataclass
ENGINES = {"onnxruntime": "lumaflow.runtime.engines.onnxruntime:Engine"}
""",
    "runtime/engines/onnxruntime.py": """\
import numpy as np
import onnxruntime as ort
from lumaflow.runtime.engines import EnginePolicy
from lumaflow.runtime import imaging
import openvino  # planted: an engine module imports only its own engine library
""",
    "runtime/engines/torch_cuda.py": """\
import torch
from torch import nn
from lumaflow.runtime.engines import torch_cuda
from lumaflow.runtime.engines import onnxruntime  # planted: engine modules are reached through the registry
""",
    "server/__init__.py": "",
    "server/triton.py": """\
import subprocess
from lumaflow.build import photos
from lumaflow.ensemble import stages
from lumaflow.runtime import imaging
from lumaflow.loadtest import perf  # planted: the launcher never imports load tests
""",
    "server/models/__init__.py": "",
    "server/models/stage.py": """\
import numpy as np
import triton_python_backend_utils as pb_utils
from lumaflow.runtime.engines import open_engine
from lumaflow.runtime import imaging
from lumaflow.contract import VERSION
from .base import Model
from lumaflow.build import photos  # planted: serving models import only the runtime
""",
    "server/models/base.py": """\
from lumaflow.params import SizeBuckets
""",
    "model_repository/clean/1/model.py": """\
from lumaflow.server.models.stage import TritonPythonModel
""",
    "model_repository/crossing/1/model.py": """\
from lumaflow.server.models.stage import TritonPythonModel
from lumaflow.ensemble import stages  # planted: serving models import only the runtime
""",
    "build/__init__.py": "",
    "build/photos.py": """\
import torch
import tensorrt
from onnxruntime.quantization import quantize_dynamic
from onnxruntime import quantization
from lumaflow.ensemble import stages
from lumaflow.runtime.engines import open_engine
import onnxruntime  # planted: build imports torch, tensorrt, onnxruntime.quantization
from onnxruntime import InferenceSession  # planted: build imports torch, tensorrt, onnxruntime.quantization
from lumaflow.server import triton  # planted: build imports only contract, params, declarations
""",
    "client/__init__.py": "",
    "client/core.py": """\
import numpy
from lumaflow.contract import VERSION
from lumaflow.client import errors
from lumaflow.params import SizeBuckets  # planted: the client imports only contract of ours
""",
    "client/errors.py": "",
    "loadtest/__init__.py": "",
    "loadtest/perf.py": """\
from lumaflow.client import core
from lumaflow.contract import VERSION
from lumaflow.ensemble import stages  # planted: load tests import only the client and contract
def main() -> None:
    pass
    from lumaflow import cli  # planted: nothing imports the CLI
""",
    "web/__init__.py": "",
    "web/app.py": """\
import starlette
from lumaflow.client import core
from lumaflow.contract import VERSION
from lumaflow.runtime import imaging  # planted: the web page imports only the client and contract
""",
    "bench/__init__.py": "",
    "bench/gpu.py": """\
import torch
from lumaflow.build import photos
from lumaflow.server import triton
from lumaflow.runtime.engines import open_engine
import openvino  # planted: bench imports torch; other engines through lumaflow.runtime.engines
""",
    # Outside the rooms: never reported, whatever they import.
    "tests/test_anything.py": """\
import onnxruntime
from lumaflow import cli
from lumaflow.build import photos
""",
    "tools/script.py": """\
from lumaflow import cli
""",
    ".venv/lib/site.py": """\
from lumaflow import cli
""",
    ".setuptools-build/lib/lumaflow/client/core.py": """\
from lumaflow import cli
""",
}


def write_tree(root: Path, planted: bool) -> dict[tuple[str, int], str]:
    """Write TREE under ``root`` (with or without the planted lines); the planted (path, line) -> rule words."""
    (root / "pyproject.toml").write_text(PYPROJECT)
    expected: dict[tuple[str, int], str] = {}
    for relative, text in TREE.items():
        kept: list[str] = []
        for line in text.splitlines():
            marker = line.partition("# planted: ")[2]
            if marker and not planted:
                continue
            kept.append(line)
            if marker:
                expected[(relative, len(kept))] = marker
        if text and not kept:
            continue  # a file that is itself the crossing (a module in no room)
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(line + "\n" for line in kept))
    return expected


def test_synthetic_tree_reports_exactly_the_planted_crossings(tmp_path: Path) -> None:
    expected = write_tree(tmp_path, planted=True)
    status, crossings = run_checker(tmp_path)
    assert status == 1
    found = {(crossing["path"], crossing["line"]): crossing for crossing in crossings}
    assert len(found) == len(crossings), "one line per crossing"
    assert set(found) == set(expected), json.dumps(crossings, indent=1)
    for place, words in expected.items():
        assert words in found[place]["rule"], (place, found[place])
    # Every rule of the table is exercised by at least one planted line.
    assert {crossing["rule"] for crossing in crossings} == {rule.name for rule in checker.RULES}


def test_synthetic_tree_names_room_and_module(tmp_path: Path) -> None:
    write_tree(tmp_path, planted=True)
    found = {(c["path"], c["line"]): (c["room"], c["module"]) for c in run_checker(tmp_path)[1]}
    assert found[("runtime/imaging.py", 10)] == ("runtime", "lumaflow.ensemble.stages")  # TYPE_CHECKING
    assert found[("runtime/imaging.py", 13)] == ("runtime", "onnxruntime")  # lazy, inside a function
    assert found[("ensemble/stages.py", 6)] == ("declarations", "lumaflow.client.core")  # relative
    assert found[("runtime/crops.py", 4)] == ("runtime", "lumaflow.build.photos")  # import_module("…")
    assert found[("runtime/engines/onnxruntime.py", 5)] == ("engine:onnxruntime", "openvino")
    assert found[("model_repository/crossing/1/model.py", 2)] == ("serving", "lumaflow.ensemble.stages")
    assert found[("lumaflow/extra.py", 1)] == ("unassigned", "lumaflow.extra")


def test_synthetic_tree_text_output(tmp_path: Path) -> None:
    expected = write_tree(tmp_path, planted=True)
    done = subprocess.run(
        [sys.executable, str(CHECKER), str(tmp_path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert len(lines) == len(expected) + 1
    assert "ensemble/stages.py:6: declarations imports lumaflow.client.core (rule: declarations import" in done.stdout
    assert lines[-1].startswith(f"{len(expected)} import(s) cross")


def test_clean_tree_reports_nothing(tmp_path: Path) -> None:
    write_tree(tmp_path, planted=False)
    assert run_checker(tmp_path) == (0, [])


def test_module_names_follow_package_dir() -> None:
    dirs = {"lumaflow": "lumaflow", "lumaflow.runtime": "runtime", "lumaflow.server": "server"}
    assert checker.module_name(Path("runtime/engines/__init__.py"), dirs) == ("lumaflow.runtime.engines", True)
    assert checker.module_name(Path("server/models/tiler.py"), dirs) == ("lumaflow.server.models.tiler", False)
    assert checker.module_name(Path("model_repository/x/1/model.py"), dirs) == ("model_repository.x.model", False)
    assert checker.module_name(Path("tests/test_x.py"), dirs) is None
    assert checker.room_of("lumaflow.runtime.engines") == "runtime"
    assert checker.room_of("lumaflow.runtime.engines.torch_cuda") == "engine:torch_cuda"
    assert checker.engine_library("engine:torch_cuda") == "torch"


def copy_python_files(source: Path, target: Path) -> None:
    """The real repository's .py files and pyproject.toml, paths kept (no environments, caches, artefacts)."""
    shutil.copy2(source / "pyproject.toml", target / "pyproject.toml")
    for relative in checker.walk_python_files(source):
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / relative, target / relative)


def plant(path: Path, line: str) -> int:
    """Append ``line`` to the file at ``path``; its line number."""
    text = path.read_text()
    if text and not text.endswith("\n"):
        text += "\n"
    path.write_text(text + line + "\n")
    return text.count("\n") + 1


def test_planted_imports_in_a_copy_of_the_repository_fail(tmp_path: Path) -> None:
    copy_python_files(REPOSITORY, tmp_path)
    runtime_line = plant(tmp_path / "runtime" / "imaging.py", "import onnxruntime")
    client_line = plant(tmp_path / "client" / "core.py", "from lumaflow.build import photos")
    status, crossings = run_checker(tmp_path)
    assert status == 1
    found = {(c["path"], c["line"]): c for c in crossings}
    runtime = found[("runtime/imaging.py", runtime_line)]
    assert (runtime["room"], runtime["module"]) == ("runtime", "onnxruntime")
    assert runtime["rule"] == "engine libraries are imported only by lumaflow.runtime.engines.<name>"
    client = found[("client/core.py", client_line)]
    assert (client["room"], client["module"]) == ("client", "lumaflow.build.photos")
    assert client["rule"] == "the client imports only contract of ours"


def test_real_tree_keeps_the_import_graph() -> None:
    status, crossings = run_checker(REPOSITORY)
    assert status == 0, "\n".join(f"{c['path']}:{c['line']}: {c['module']} ({c['rule']})" for c in crossings)


def test_tests_import_helpers_from_the_fixtures_module_only() -> None:
    """A test module imports no other test module and not conftest.py: shared helpers live in tests/fixtures.py."""
    allowed = {"tests", "tests.fixtures", "tests.bad_inputs", "tests.odd_files"}  # the two corpora are data
    crossings = []
    for path in sorted((REPOSITORY / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] if node.module != "tests" else [f"tests.{a.name}" for a in node.names]
            else:
                continue
            crossings += [f"{path.name}:{node.lineno}: {name}" for name in names if name.split(".")[0] == "tests"]
    assert [line for line in crossings if line.rsplit(": ", 1)[1] not in allowed] == []
