"""TorchScript artefacts for the ``torch_cuda`` engine, made on the machine that serves them.

A stage's network is loaded as ``lumaflow build`` loads it (``lumaflow.build.repository.load_network``) and
wrapped in the same served interface as its ONNX graph (``PixelsGraph``, or FFDNet's
``NoiseLevelPixelsGraph``): uint8 NHWC in and out. On CUDA the network inside runs in fp16 on
channels-last tensors (the cast sits between the wrapper's float conversion and the network, and the
output goes back to fp32 before the wrapper rounds it to 8 bits); on the CPU it stays fp32. The traced
graph is saved as ``<repository>/<stage>/1/model.ts`` with its tensor names in the archive's
``lumaflow.json`` (what ``lumaflow.runtime.engines.torch_cuda`` reads).

Checks: against the stage's ONNX graph through ONNX Runtime (the dry run: the CPU artefact must match it
within one level on real-photo crops), and on a GPU against the fp32 network in torch (fp16's error,
reported as the worst level difference, the share of values that differ and the PSNR).

    python -m lumaflow.bench.gpu_artifacts --repository /tmp/repo --device cuda --stages camera_sr_x2 ffdnet
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lumaflow import contract
from lumaflow.ensemble.stages import STAGES, Stage

ARTIFACT_FILE = "model.ts"
META_FILE = "lumaflow.json"  # lumaflow.runtime.engines.torch_cuda.META_FILE
SUPPORTED = ("camera_sr_x2", "ffdnet")  # the camera and denoise pipelines' networks


def _cast_in(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return x.to(dtype).contiguous(memory_format=torch.channels_last)


class _Cast(nn.Module):
    """The network in ``dtype`` on channels-last tensors, fp32 NCHW in and out."""

    def __init__(self, model: nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.model = model
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(_cast_in(x, self.dtype)).float()


class _CastSubPixel(_Cast):
    """``_Cast`` for a sub-pixel network: keeps ``scale`` and ``interleaved_phases`` for ``PixelsGraph``."""

    def __init__(self, model: nn.Module, dtype: torch.dtype) -> None:
        super().__init__(model, dtype)
        self.scale = int(getattr(model, "scale"))  # noqa: B009 - a SubPixel's attribute

    def interleaved_phases(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.interleaved_phases(_cast_in(x, self.dtype)).float()  # type: ignore[operator]


class _CastDenoiser(_Cast):
    """``_Cast`` for FFDNet's two inputs (the image and sigma / 255 as [N, 1, 1, 1])."""

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.model(_cast_in(x, self.dtype), sigma.to(self.dtype)).float()


@dataclass(frozen=True)
class Exported:
    stage: str
    path: Path
    device: str
    dtype: str
    seconds: float


def weights_file(stage: Stage, weights_dir: Path | None = None) -> Path:
    """The stage's weights: a staged copy (``<weights_dir>/<stage>/<file>``) if there is one, else build's."""
    from lumaflow.build.repository import Artifact

    assert stage.network is not None
    if weights_dir is not None:
        staged = weights_dir / stage.name / Path(stage.network.weights).name
        if staged.is_file():
            return staged
    return Artifact(stage, stage.network, Path(".")).weights_path()


def network_module(stage: Stage, weights_dir: Path | None = None) -> nn.Module:
    """The fp32 float network of ``stage`` (NCHW in [0, 1]), as ``lumaflow build`` loads it."""
    from lumaflow.build.pixels import AveragedDown
    from lumaflow.build.repository import load_network

    network = stage.network
    if network is None:
        raise ValueError(f"stage {stage.name!r} has no network")
    descriptor = load_network(network, weights_file(stage, weights_dir))
    model = descriptor.model
    if network.downscale_after > 1:
        model = AveragedDown(model, network.downscale_after)
    return model.eval()


def _side(stage: Stage) -> list[str]:
    return [tensor.name for tensor in stage.inputs[1:]]


def served_graph(stage: Stage, model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """The uint8 NHWC interface around ``model`` computing in ``dtype``, as the stage's ONNX graph is built."""
    from lumaflow.build.arch.ffdnet import NoiseLevelPixelsGraph
    from lumaflow.build.pixels import PixelsGraph, SubPixel

    side = _side(stage)
    if side == [contract.NOISE_LEVEL.name]:
        return NoiseLevelPixelsGraph(_CastDenoiser(model, dtype))
    if side:
        raise ValueError(f"stage {stage.name!r}: no TorchScript export for side inputs {side}")
    cast = _CastSubPixel(model, dtype) if isinstance(model, SubPixel) else _Cast(model, dtype)
    return PixelsGraph(cast)


def _example(stage: Stage, device: torch.device) -> tuple[torch.Tensor, ...]:
    # Batch 2 and H != W, so the tracer records sizes, not constants (as the ONNX export's example does).
    pixels = torch.zeros(2, 40, 56, 3, dtype=torch.uint8, device=device)
    if _side(stage):
        return pixels, torch.full((2, 1), 25.0, device=device)
    return (pixels,)


def export(
    stage: Stage, repository: Path, device: str, *, weights_dir: Path | None = None, fp16: bool | None = None
) -> Exported:
    """Trace ``stage``'s served graph on ``device`` into ``<repository>/<stage>/1/model.ts`` (fp16 on CUDA)."""
    started = time.monotonic()
    target = torch.device(device)
    half = target.type == "cuda" if fp16 is None else fp16
    dtype = torch.float16 if half else torch.float32
    model = network_module(stage, weights_dir).to(target, dtype).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    graph = served_graph(stage, model, dtype).eval()
    path = repository / stage.name / "1" / ARTIFACT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "stage": stage.name,
        "inputs": [tensor.name for tensor in stage.inputs],
        "outputs": [tensor.name for tensor in stage.outputs],
        "device": str(target),
        "dtype": str(dtype).removeprefix("torch."),
        "memory_format": "channels_last",
        "torch": torch.__version__,
        "weights": stage.network.weights_id if stage.network else "",
    }
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # TorchScript's deprecation and the tracer's shape notes
        traced = torch.jit.trace(graph, _example(stage, target), check_trace=False)
        torch.jit.save(traced, str(path), _extra_files={META_FILE: json.dumps(metadata)})
    return Exported(stage.name, path, str(target), metadata["dtype"], time.monotonic() - started)


# --- checks ----------------------------------------------------------------------------------------------------


def real_photos() -> list[np.ndarray]:
    """scikit-image's astronaut, coffee and chelsea (RGB uint8), read from its files: skimage itself is not
    imported (the GPU machine's is built for numpy 2, and the benchmark runs numpy 1.x)."""
    import importlib.util

    from PIL import Image

    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("scikit-image's photos are needed (pip install scikit-image)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    return [
        np.asarray(Image.open(folder / f"{name}.png").convert("RGB")) for name in ("astronaut", "coffee", "chelsea")
    ]


def photo_crops(sizes: Sequence[tuple[int, int, int]] = ((2, 120, 168), (1, 200, 144))) -> list[np.ndarray]:
    """Real photos (``real_photos``) as uint8 NHWC batches of (batch, height, width)."""
    photos = real_photos()
    batches = []
    for index, (batch, height, width) in enumerate(sizes):
        crops = []
        for item in range(batch):
            photo = photos[(index + item) % len(photos)]
            top, left = (photo.shape[0] - height) // (2 + item), (photo.shape[1] - width) // (2 + item)
            crops.append(photo[top : top + height, left : left + width])
        batches.append(np.ascontiguousarray(np.stack(crops)))
    return batches


def feed_for(stage: Stage, pixels: np.ndarray) -> dict[str, np.ndarray]:
    """The stage's inputs for ``pixels``: a noise level per image (15, then 50) where it takes one."""
    feed = {stage.inputs[0].name: pixels}
    if _side(stage):
        levels = np.array([[15.0], [50.0]] * pixels.shape[0], dtype=np.float32)[: pixels.shape[0]]
        feed[contract.NOISE_LEVEL.name] = levels
    return feed


def difference(got: np.ndarray, expected: np.ndarray) -> dict[str, float]:
    """Worst level difference, share of values that differ, and PSNR (dB) of two uint8 arrays."""
    if got.shape != expected.shape:
        raise AssertionError(f"shape {got.shape} against {expected.shape}")
    delta = np.abs(got.astype(np.int16) - expected.astype(np.int16))
    mse = float(np.mean(delta.astype(np.float64) ** 2))
    return {
        "max_abs_diff": float(delta.max()),
        "fraction_differing": float(np.count_nonzero(delta) / delta.size),
        "psnr_db": math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse),
    }


def _worst(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    return {
        "max_abs_diff": max(row["max_abs_diff"] for row in rows),
        "fraction_differing": max(row["fraction_differing"] for row in rows),
        "psnr_db": min(row["psnr_db"] for row in rows),
    }


def check_against_onnx(stage: Stage, artifact: Path, onnx: Path) -> dict[str, float]:
    """The artefact (through the ``torch_cuda`` engine) against the ONNX graph (ONNX Runtime) on real-photo crops."""
    from lumaflow.runtime.engines import EnginePolicy, open_engine

    torch_engine = open_engine("torch_cuda", artifact, EnginePolicy(threads=2))
    onnx_engine = open_engine("onnxruntime", onnx, EnginePolicy(threads=2))
    rows = []
    for pixels in photo_crops():
        feed = feed_for(stage, pixels)
        rows.append(difference(torch_engine.run(feed)[0], onnx_engine.run(feed)[0]))
    return _worst(rows)


def check_against_fp32(stage: Stage, artifact: Path, device: str, weights_dir: Path | None = None) -> dict[str, float]:
    """The artefact against the fp32 network in torch on ``device`` (TF32 off): fp16's error on real photos."""
    from lumaflow.runtime.engines import EnginePolicy, open_engine

    target = torch.device(device)
    reference = served_graph(stage, network_module(stage, weights_dir).to(target), torch.float32).eval()
    engine = open_engine("torch_cuda", artifact, EnginePolicy(threads=2))
    allowed = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    rows = []
    try:
        for pixels in photo_crops():
            feed = feed_for(stage, pixels)
            with torch.inference_mode():
                expected = reference(*(torch.from_numpy(value).to(target) for value in feed.values())).cpu().numpy()
            rows.append(difference(engine.run(feed)[0], expected))
    finally:
        torch.backends.cudnn.allow_tf32 = allowed
    return _worst(rows)


def export_all(
    repository: Path,
    device: str,
    stages: Sequence[str] = SUPPORTED,
    *,
    weights_dir: Path | None = None,
    onnx_repository: Path | None = None,
) -> dict[str, dict[str, Any]]:
    """Export each stage's artefact into ``repository`` and check it; return what was done, by stage."""
    done: dict[str, dict[str, Any]] = {}
    for name in stages:
        stage = STAGES[name]
        exported = export(stage, repository, device, weights_dir=weights_dir)
        row: dict[str, Any] = {
            "path": str(exported.path),
            "device": exported.device,
            "dtype": exported.dtype,
            "bytes": exported.path.stat().st_size,
            "export_s": round(exported.seconds, 2),
        }
        onnx = onnx_repository / name / "1" / "model.onnx" if onnx_repository else None
        if onnx is not None and onnx.is_file():
            row["vs_onnx"] = check_against_onnx(stage, exported.path, onnx)
        if exported.dtype != "float32":
            row["vs_fp32_torch"] = check_against_fp32(stage, exported.path, device, weights_dir)
        done[name] = row
    return done


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repository", type=Path, required=True, help="model repository to write <stage>/1/model.ts")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--stages", nargs="*", default=list(SUPPORTED))
    parser.add_argument("--weights", type=Path, help="staged weights (<dir>/<stage>/<file>), else build's own")
    parser.add_argument("--onnx-repository", type=Path, help="check against <dir>/<stage>/1/model.onnx")
    args = parser.parse_args(argv)
    done = export_all(
        args.repository, args.device, args.stages, weights_dir=args.weights, onnx_repository=args.onnx_repository
    )
    print(json.dumps(done, indent=1))


if __name__ == "__main__":
    main()
