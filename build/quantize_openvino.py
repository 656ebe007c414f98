"""OpenVINO's int8: NNCF post-training quantisation of a served ONNX graph into an OpenVINO IR (issue 26).

ONNX Runtime's QDQ int8 camera graph runs at about its fp32 speed under either engine here; NNCF's graph under
OpenVINO runs at well over its fp32 speed. Two settings, each measured on the camera network (validation photos,
`python -m lumaflow.bench.camera --engine openvino`, docs/performance.md):

- the ``MIXED`` preset (asymmetric activations): the residual and pixel-shuffle activations are signed and
  lopsided, and symmetric ranges waste half the levels;
- the fixed bicubic skip of our SR networks (`lumaflow.build.arch.bicubic`) left in float: it carries most of the
  picture, and quantised it cost the camera network 1.1 dB. It is found by its weights (the convolution whose
  constant kernel is `BicubicUpsample`'s, grouped or interleaved), not by a node name the exporter chose.

Calibration frames are the camera benchmark's (`lumaflow.build.quantize.calibration_frames`). Weights left in
float stay fp32 in the IR (no fp16 compression): an engine swap must not move the picture.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nncf
import numpy as np
import openvino as ov

SKIP_SCALES = (2, 3, 4)
CHANNELS = 3


def _skip_kernels() -> list[np.ndarray]:
    from lumaflow.build.arch.bicubic import BicubicUpsample

    kernels = []
    for scale in SKIP_SCALES:
        skip = BicubicUpsample(scale, CHANNELS)
        kernels += [skip.weight.numpy(), skip.interleaved_weight.numpy()]
    return kernels


def _constant(output: ov.Output) -> np.ndarray | None:
    node = output.get_node()
    while node.get_type_name() == "Convert":  # weights kept in another precision are converted in the graph
        node = node.input_value(0).get_node()
    return node.get_data() if node.get_type_name() == "Constant" else None


def bicubic_skip_names(model: ov.Model) -> list[str]:
    """The convolutions of ``model`` whose kernel is a bicubic skip's."""
    kernels = _skip_kernels()
    names = []
    for op in model.get_ops():
        if op.get_type_name() not in ("Convolution", "GroupConvolution"):
            continue
        weight = _constant(op.input_value(1))
        if weight is None:
            continue
        flat = weight.reshape(-1, *weight.shape[-3:]) if weight.ndim == 5 else weight
        if any(flat.shape == k.shape and np.allclose(flat, k, atol=1e-6) for k in kernels):
            names.append(op.get_friendly_name())
    return names


def quantize_openvino_int8(
    onnx_path: str | os.PathLike[str], out_xml: Path, frames: Sequence[np.ndarray], input_name: str = "PIXELS"
) -> dict[str, Any]:
    """Quantise ``onnx_path`` with NNCF on ``frames`` and write the IR (``out_xml`` and its ``.bin``)."""
    return quantize_openvino_feeds(onnx_path, out_xml, [{input_name: frame} for frame in frames])


def quantize_openvino_feeds(
    onnx_path: str | os.PathLike[str], out_xml: Path, feeds: Sequence[Mapping[str, np.ndarray]]
) -> dict[str, Any]:
    """Quantise ``onnx_path`` with NNCF on whole calls (``feeds``: every input by name, as a stage with side
    inputs receives them) and write the IR (``out_xml`` and its ``.bin``)."""
    model = ov.Core().read_model(os.fspath(onnx_path))
    skips = bicubic_skip_names(model)
    dataset = nncf.Dataset(list(feeds), dict)
    quantized = nncf.quantize(
        model,
        dataset,
        subset_size=len(feeds),
        preset=nncf.QuantizationPreset.MIXED,
        ignored_scope=nncf.IgnoredScope(names=skips),
    )
    out_xml.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, os.fspath(out_xml), compress_to_fp16=False)
    return {
        "tool": f"nncf {nncf.__version__}, openvino {ov.__version__}",
        "preset": "mixed",
        "kept_float": skips,
        "calibration_frames": len(feeds),
        "file": out_xml.name,
    }
