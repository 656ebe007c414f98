"""Fill the model repository with the artefacts the stage declarations name (ONNX graphs).

Each exported graph gets a sidecar ``<onnx>.json`` recording the weights it came from. An
artefact is *missing* when the graph or its sidecar is absent or the weights changed since, so
``lumaflow serve`` rebuilds exactly what is stale. Checking needs no torch; building does.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import lumaflow
from lumaflow.build import WEIGHTS_DIR
from lumaflow.ensemble.stages import Network, Stage

BUILD_DIR = Path(__file__).resolve().parent


def graph_sources(architecture: str) -> list[Path]:
    """The files whose code turns ``architecture``'s weights into a graph.

    ``arch/<architecture>.py`` and the sibling ``arch`` modules it imports (read with ``ast``, so
    no torch is needed), plus the uint8 wrapper and the exporter. Another architecture's file is
    not among them, so adding one does not rebuild this graph.
    """
    arch_dir = BUILD_DIR / "arch"
    pending, seen = [arch_dir / f"{architecture}.py"], set()
    while pending:
        path = pending.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.level == 1:
                    pending.append(arch_dir / f"{node.module}.py")
                elif node.module.startswith("lumaflow.build.arch."):
                    pending.append(arch_dir / f"{node.module.rsplit('.', 1)[1]}.py")
    return [*sorted(seen), BUILD_DIR / "pixels.py", BUILD_DIR / "export.py"]


def graph_code_sha256(architecture: str) -> str:
    """A hash of ``graph_sources``: part of the artefact's key, so editing the code rebuilds the graph."""
    digest = hashlib.sha256()
    for path in graph_sources(architecture):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Artifact:
    """The ONNX graph of one neural stage and the record that says what made it."""

    stage: Stage
    network: Network
    repository: Path

    @property
    def onnx_path(self) -> Path:
        return self.repository / self.stage.name / "1" / self.network.onnx_file

    @property
    def sidecar_path(self) -> Path:
        return self.onnx_path.with_name(self.network.record_file)

    @property
    def weights_path(self) -> Path:
        return WEIGHTS_DIR / self.network.weights

    def expected_record(self) -> dict[str, str]:
        if not self.weights_path.is_file():
            raise FileNotFoundError(f"stage {self.stage.name!r}: weights {self.weights_path} are missing")
        return {
            "stage": self.stage.name,
            "architecture": self.network.architecture,
            "weights": self.network.weights,
            "weights_sha256": hashlib.sha256(self.weights_path.read_bytes()).hexdigest(),
            "graph_code_sha256": graph_code_sha256(self.network.architecture),
        }

    def is_current(self) -> bool:
        if not self.onnx_path.is_file() or not self.sidecar_path.is_file():
            return False
        try:
            record = json.loads(self.sidecar_path.read_text())
        except (OSError, ValueError):
            return False
        expected = self.expected_record()
        return all(record.get(key) == value for key, value in expected.items())


def artifacts(repository: Path, stages: list[Stage]) -> list[Artifact]:
    """The artefacts of the neural ``stages`` that ``repository`` serves (has a config for)."""
    return [
        Artifact(stage, stage.network, repository)
        for stage in stages
        if stage.network is not None and (repository / stage.name / "config.pbtxt").is_file()
    ]


def missing_artifacts(repository: Path, stages: list[Stage]) -> list[Artifact]:
    """The artefacts that are absent or stale; needs no torch."""
    return [artifact for artifact in artifacts(repository, stages) if not artifact.is_current()]


def _parity_samples() -> list:
    """Deterministic photo-like uint8 NHWC samples of two sizes (smooth gradients plus texture)."""
    import numpy as np

    generator = np.random.default_rng(0)
    samples = []
    for batch, height, width in ((2, 40, 56), (1, 64, 48)):
        y, x = np.mgrid[0:height, 0:width]
        base = np.stack([x / width, y / height, (x + y) / (width + height)], axis=-1) * 200
        texture = generator.normal(0, 12, size=(batch, height, width, 3))
        samples.append(np.clip(base[None] + texture, 0, 255).astype(np.uint8))
    return samples


def build_artifact(artifact: Artifact) -> dict[str, object]:
    """Export one stage's graph from its weights, verify it with ONNX Runtime, write the sidecar."""
    from lumaflow.build.export import export_onnx, verify_onnx
    from lumaflow.build.pixels import PixelsGraph
    from lumaflow.build.registry import load_file

    stage = artifact.stage
    (pixels_in,) = stage.inputs
    (pixels_out,) = stage.outputs
    descriptor = load_file(str(artifact.weights_path))
    if descriptor.scale != stage.scale:
        raise ValueError(f"stage {stage.name!r} declares scale {stage.scale}, its weights are x{descriptor.scale}")
    graph = PixelsGraph(descriptor.model)
    export_onnx(graph, artifact.onnx_path, input_name=pixels_in.name, output_name=pixels_out.name)
    parity = verify_onnx(graph, artifact.onnx_path, _parity_samples())
    record = {
        **artifact.expected_record(),
        "lumaflow": lumaflow.__version__,
        "onnx_sha256": hashlib.sha256(artifact.onnx_path.read_bytes()).hexdigest(),
        "parity_max_abs_diff": parity.max_abs_diff,
        "parity_fraction_differing": parity.frac_differing,
    }
    _write_json_atomically(artifact.sidecar_path, record)
    for path in (artifact.onnx_path, artifact.sidecar_path):
        path.chmod(0o644)  # temp files are private; a server running as another user must read them
    return record


def _write_json_atomically(path: Path, record: dict[str, object]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        json.dump(record, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)
