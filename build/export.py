"""ONNX export of the served graphs, and a torch-vs-ONNX Runtime parity check on real pixels.

Export uses torch's dynamo exporter with symbolic batch/height/width, so one file serves any
frame size; `verify_onnx` proves that on shapes other than the export example.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lumaflow.build.pixels import PixelsGraph
from lumaflow.params import ONNX_RUNTIME
from lumaflow.runtime.engines import Engine, EnginePolicy, open_engine

DEFAULT_OPSET = 18


@dataclass(frozen=True)
class Parity:
    """How far ONNX Runtime's outputs are from torch's over all samples."""

    max_abs_diff: float
    frac_differing: float
    shapes: tuple[tuple[int, ...], ...]


def _default_example(module: nn.Module) -> torch.Tensor:
    # Batch 2 and H != W so neither axis can be specialised to a constant by the tracer.
    if isinstance(module, PixelsGraph):
        return torch.zeros(2, 32, 48, 3, dtype=torch.uint8)
    return torch.zeros(2, 3, 32, 48, dtype=torch.float32)


def save_program(program: object, path: str | os.PathLike[str]) -> Path:
    """Write an exported ONNX program atomically (temp file, then rename); return the path."""
    if program is None:  # only the legacy exporter returns None
        raise RuntimeError("torch.onnx.export returned no program")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        program.save(tmp, external_data=False)  # type: ignore[attr-defined]
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Hide the dynamo exporter's chatter (missing torchvision ops, pytree deprecations).

    It is noise to someone starting ``lumaflow serve``; real failures still raise.
    """
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        logger.setLevel(level)


def image_axes() -> tuple[torch.export.Dim, torch.export.Dim, torch.export.Dim]:
    """The dynamic batch, height and width every exported graph has (images of any size, batches of any count)."""
    dim = torch.export.Dim
    return dim("batch", min=1, max=1024), dim("height", min=1, max=16384), dim("width", min=1, max=16384)


def export_program(
    module: nn.Module,
    path: str | os.PathLike[str],
    examples: tuple[torch.Tensor, ...],
    dynamic: tuple[dict[int, torch.export.Dim], ...],
    input_names: Sequence[str],
    output_name: str,
    opset: int = DEFAULT_OPSET,
) -> Path:
    """Export ``module`` with torch's dynamo exporter, quietly, and write ``path`` atomically; every exporter ends here.

    ``dynamic`` gives each example's dynamic axes; inputs that share a symbol (the batch) share that axis.
    """
    if opset < 17:
        raise ValueError("opset must be >= 17")
    with _quiet_exporter(), warnings.catch_warnings():
        # Shared symbols make the exporter say it drops the second, identical, axis name.
        warnings.filterwarnings("ignore", message=r"# The axis name", category=UserWarning)
        program = torch.onnx.export(
            module.eval(),
            examples,
            dynamo=True,
            dynamic_shapes=dynamic,
            input_names=list(input_names),
            output_names=[output_name],
            opset_version=opset,
            verbose=False,
        )
    return save_program(program, path)


def export_onnx(
    module: nn.Module,
    path: str | os.PathLike[str],
    *,
    input_name: str | Sequence[str] = "PIXELS",
    output_name: str = "UPSCALED",
    opset: int = DEFAULT_OPSET,
    example: torch.Tensor | tuple[torch.Tensor, ...] | None = None,
) -> Path:
    """Export `module` with dynamic N/H/W axes, writing `path` atomically; returns the path.

    A uint8 example is taken as NHWC (the served `PixelsGraph` layout), or as N K H W C when it has
    five axes (a crop set per photo: K dynamic too); anything else as NCHW.
    Several inputs (a tuple of examples and names, e.g. PIXELS and HOLE) share one batch, height
    and width: they are the same images.
    """
    module = module.eval()
    if example is None:
        example = _default_example(module)
    examples = example if isinstance(example, tuple) else (example,)
    names = [input_name] if isinstance(input_name, str) else list(input_name)
    if len(names) != len(examples):
        raise ValueError(f"{len(names)} input names for {len(examples)} examples")
    batch, height, width = image_axes()
    dynamic = []
    for tensor in examples:
        if tensor.dtype == torch.uint8 and tensor.dim() == 5:
            dynamic.append({0: batch, 1: torch.export.Dim("crops", min=1, max=1024), 2: height, 3: width})
            continue
        spatial = (1, 2) if tensor.dtype == torch.uint8 else (2, 3)
        dynamic.append({0: batch, spatial[0]: height, spatial[1]: width})
    return export_program(module, path, examples, tuple(dynamic), names, output_name, opset)


def open_graph(path: str | os.PathLike[str]) -> Engine:
    """The exported graph, opened as the server opens it (through the engine registry), on two threads."""
    return open_engine(ONNX_RUNTIME, os.fspath(path), EnginePolicy(threads=2))


Sample = np.ndarray | tuple[np.ndarray, ...]  # one input, or one array per graph input


def _run_both(
    module: nn.Module, path: str | os.PathLike[str], inputs: Sequence[Sample]
) -> list[tuple[np.ndarray, np.ndarray]]:
    engine = open_graph(path)
    in_names = engine.input_names
    module = module.eval()
    pairs = []
    with torch.inference_mode():
        for sample in inputs:
            arrays = sample if isinstance(sample, tuple) else (sample,)
            expected = module(*(torch.from_numpy(np.ascontiguousarray(x)) for x in arrays)).numpy()
            got = engine.run(dict(zip(in_names, arrays, strict=True)))[0]
            if got.shape != expected.shape or got.dtype != expected.dtype:
                raise AssertionError(
                    f"ORT gave {got.dtype}{got.shape}, torch {expected.dtype}{expected.shape} for {arrays[0].shape}"
                )
            pairs.append((expected, got))
    return pairs


def verify_onnx(
    module: nn.Module,
    path: str | os.PathLike[str],
    samples: Sequence[Sample],
    *,
    max_abs_diff: int = 1,
    max_frac_differing: float = 1e-3,
) -> Parity:
    """Run uint8 NHWC `samples` through torch and ORT; raise if they differ beyond rounding noise.

    Off-by-one values are allowed at a tiny rate: float sums in a different order can push a
    value across a .5 rounding boundary, which is noise, while anything larger is a real bug.
    """
    firsts = [sample[0] if isinstance(sample, tuple) else sample for sample in samples]
    if len({x.shape[1:3] for x in firsts}) < 2:
        raise ValueError("give samples of at least two different H x W, or dynamic axes go unchecked")
    pairs = _run_both(module, path, samples)
    return judge_uint8(pairs, tuple(x.shape for x in firsts), max_abs_diff, max_frac_differing)


def judge_uint8(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    shapes: tuple[tuple[int, ...], ...],
    max_abs_diff: int,
    max_frac_differing: float,
) -> Parity:
    """Parity of (torch, ORT) uint8 output pairs; raise past the bounds (off-by-one is rounding noise)."""
    worst, differing, total = 0, 0, 0
    for expected, got in pairs:
        diff = np.abs(expected.astype(np.int16) - got.astype(np.int16))
        worst = max(worst, int(diff.max()))
        differing += int(np.count_nonzero(diff))
        total += diff.size
    parity = Parity(float(worst), differing / total, shapes)
    if parity.max_abs_diff > max_abs_diff or parity.frac_differing > max_frac_differing:
        raise AssertionError(f"ONNX Runtime disagrees with torch: {parity}")
    return parity


def verify_measures_onnx(
    module: nn.Module, path: str | os.PathLike[str], samples: Sequence[np.ndarray], *, atol: float = 1e-2
) -> Parity:
    """Like `verify_onnx`, for a graph of uint8 pixels in and float measures out (the assessors).

    ``atol`` is in the served units (σ levels, quality points): far below what anyone reads.
    """
    if len({x.shape[1:3] for x in samples}) < 2:
        raise ValueError("give samples of at least two different H x W, or dynamic axes go unchecked")
    return _judge_float(module, path, samples, atol, "ONNX Runtime's measures drift from torch's")


def _judge_float(
    module: nn.Module, path: str | os.PathLike[str], inputs: Sequence[np.ndarray], atol: float, failure: str
) -> Parity:
    """Parity of float outputs: the worst absolute difference must stay within ``atol``."""
    diffs = [np.abs(e - g) for e, g in _run_both(module, path, inputs)]
    worst = max(float(d.max()) for d in diffs)
    over = sum(int(np.count_nonzero(d > atol)) for d in diffs) / sum(d.size for d in diffs)
    if worst > atol:
        raise AssertionError(f"{failure} by {worst:.3g} (> {atol})")
    return Parity(worst, over, tuple(x.shape for x in inputs))


def verify_float_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    samples: Sequence[np.ndarray],
    *,
    atol: float = 1e-3,
) -> Parity:
    """Like `verify_onnx`, for a float NCHW graph (the bare model), fed the same uint8 NHWC samples.

    This catches small numeric drift (e.g. a different bicubic kernel) that uint8 rounding hides.
    """
    inputs = [np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0 for x in samples]
    return _judge_float(model, path, inputs, atol, "float ONNX graph drifts from torch")
