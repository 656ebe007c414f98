"""What a graph costs in arithmetic: multiply-accumulates of its convolutions and matrix products at given input
shapes, read from the graph itself (OpenVINO's shape inference), so the engine table can set a stage's achieved
GFLOP/s against the machine's GEMM ceiling without trusting a hand count (issue 26).

Only the operations that dominate our networks are counted (convolutions, transposed convolutions, grouped or
not, and matrix products); element-wise work, resizes and pooling are left out, so the figure is a floor.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import openvino as ov

COUNTED = ("Convolution", "GroupConvolution", "ConvolutionBackpropData", "GroupConvolutionBackpropData", "MatMul")


def _shape(output: ov.Output) -> tuple[int, ...]:
    return tuple(int(d) for d in output.get_shape())


def operation_macs(op: ov.Node) -> int:
    """Multiply-accumulates of one counted operation (0 for any other), from its static shapes."""
    kind = op.get_type_name()
    if kind not in COUNTED:
        return 0
    out = _shape(op.output(0))
    weight = _shape(op.input_value(1))
    if kind == "Convolution":  # weight [O, I, k...]: every output element reads I x k... inputs
        return int(np.prod(out)) * int(np.prod(weight[1:]))
    if kind == "GroupConvolution":  # weight [G, O/G, I/G, k...]
        return int(np.prod(out)) * int(np.prod(weight[2:]))
    source = _shape(op.input_value(0))
    if kind == "ConvolutionBackpropData":  # weight [I, O, k...]: every input element feeds O x k... outputs
        return int(np.prod(source)) * int(np.prod(weight[1:]))
    if kind == "GroupConvolutionBackpropData":  # weight [G, I/G, O/G, k...]
        return int(np.prod(source)) * int(np.prod(weight[2:]))
    transpose_a = bool(op.get_attributes().get("transpose_a", False))
    inner = source[-2] if transpose_a else source[-1]
    return int(np.prod(out)) * inner


def graph_gflop(path: str | os.PathLike[str], shapes: Mapping[str, tuple[int, ...]]) -> float:
    """GFLOP (2 x multiply-accumulates) of one call of the graph at ``path`` with inputs of ``shapes``."""
    model = ov.Core().read_model(os.fspath(path))
    model.reshape({name: ov.PartialShape(list(shape)) for name, shape in shapes.items()})
    return 2 * sum(operation_macs(op) for op in model.get_ordered_ops()) / 1e9
