"""Find the tritonserver to run and prepare its python backend.

pytriton's wheel ships tritonserver 2.51.0, the python backend and one backend stub per Python
version. Triton runs the stub next to ``libtriton_python.so``, so a backend directory is laid
out per server run with the stub that matches the interpreter running Lumaflow.

In NVIDIA's own image (``nvcr.io/nvidia/tritonserver``, docker/Dockerfile) ``LUMAFLOW_TRITON_ROOT``
names its installation (``/opt/tritonserver``): its binary and its backends (python, onnxruntime,
tensorrt) are used as they are.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

STUB_NAME = "triton_python_backend_stub"
ROOT_VARIABLE = "LUMAFLOW_TRITON_ROOT"


class ServeError(Exception):
    """A reason the server cannot start, in one line for the person who ran it."""


@dataclass(frozen=True)
class TritonDistribution:
    """The parts of a Triton installation that Lumaflow uses."""

    root: Path
    bundled: bool = True  # pytriton's wheel (a stub per Python); False: an installation such as NGC's

    @property
    def binary(self) -> Path:
        return self.root / "bin" / "tritonserver"

    @property
    def python_backend(self) -> Path:
        return self.root / "backends" / "python"

    @property
    def caches(self) -> Path:
        """Where tritonserver finds its response-cache implementations (``local``)."""
        return self.root / "caches"

    @property
    def stubs(self) -> Path:
        return self.root / "python_backend_stubs"

    @property
    def library_dirs(self) -> list[Path]:
        """Shared libraries the binary and the stub need: the wheel's own and libpython's."""
        dirs = [self.root.parent.parent / "nvidia_pytriton.libs"]
        libdir = sysconfig.get_config_var("LIBDIR")
        if libdir:
            dirs.append(Path(libdir))
        return [path for path in dirs if path.is_dir()]

    @classmethod
    def locate(cls) -> TritonDistribution:
        """``$LUMAFLOW_TRITON_ROOT`` when set, else the tritonserver inside the nvidia-pytriton wheel."""
        if os.environ.get(ROOT_VARIABLE):
            installed = cls(Path(os.environ[ROOT_VARIABLE]), bundled=False)
            if not installed.binary.is_file():
                raise ServeError(f"{ROOT_VARIABLE} is {installed.root}, which has no bin/tritonserver")
            return installed
        spec = importlib.util.find_spec("pytriton")
        if spec is None or not spec.submodule_search_locations:
            raise ServeError("tritonserver is not installed: install the server extra (pip install -e '.[server]')")
        root = Path(next(iter(spec.submodule_search_locations))) / "tritonserver"
        distribution = cls(root)
        if not distribution.binary.is_file():
            raise ServeError(f"nvidia-pytriton is installed but has no tritonserver binary at {distribution.binary}")
        return distribution

    def stub_for(self, version: tuple[int, int]) -> Path:
        """The backend stub built for Python ``version``."""
        stub = self.stubs / f"{version[0]}.{version[1]}" / STUB_NAME
        if not stub.is_file():
            shipped = sorted(path.name for path in self.stubs.iterdir() if (path / STUB_NAME).is_file())
            raise ServeError(
                f"no python-backend stub for Python {version[0]}.{version[1]} in nvidia-pytriton "
                f"(it ships {', '.join(shipped) or 'none'}); run Lumaflow with one of those"
            )
        return stub

    def backend_directory(self, workdir: Path) -> Path:
        """Where tritonserver finds its backends: laid out once under ``workdir``, or the installation's own."""
        if not self.bundled:
            return self.root / "backends"
        destination = workdir / "backends"
        if not destination.is_dir():  # a restart reuses it (an old stub may still be running the file)
            self.prepare_backends(destination)
        return destination

    def prepare_backends(self, destination: Path, version: tuple[int, int] | None = None) -> Path:
        """Lay out ``destination/python`` with the backend and the matching stub; return ``destination``."""
        stub = self.stub_for(version or (sys.version_info.major, sys.version_info.minor))
        python_dir = destination / "python"
        python_dir.mkdir(parents=True, exist_ok=True)
        for item in self.python_backend.iterdir():
            if item.is_file():
                shutil.copy2(item, python_dir / item.name)
        shutil.copy2(stub, python_dir / STUB_NAME)
        return destination
