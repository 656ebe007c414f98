"""The arithmetic a graph costs, read from the graph (``lumaflow.build.graph_cost``), against hand counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

CHANNELS, FEATURES, SIDE = 3, 8, 16


def _graph(path: Path) -> Path:
    """PIXELS [1, 3, H, W] -> a 3x3 convolution to 8 channels -> a grouped (depthwise) 3x3 convolution, a 2x
    transposed convolution to 4 channels, and a matrix product with a [W, 4] matrix; H and W left dynamic."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)

    def weight(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["PIXELS", "w1"], ["a"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["a", "w2"], ["b"], pads=[1, 1, 1, 1], group=FEATURES),
        helper.make_node("ConvTranspose", ["a", "w3"], ["c"], strides=[2, 2]),
        helper.make_node("MatMul", ["b", "w4"], ["d"]),
    ]
    dims: list[str | int | None] = [1, CHANNELS, "H", "W"]
    graph = helper.make_graph(
        nodes,
        "costed",
        [helper.make_tensor_value_info("PIXELS", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in ("c", "d")],
        [
            weight("w1", FEATURES, CHANNELS, 3, 3),
            weight("w2", FEATURES, 1, 3, 3),
            weight("w3", FEATURES, 4, 2, 2),
            weight("w4", SIDE, 4),
        ],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    return path


@pytest.mark.unit
def test_graph_gflop_counts_convolutions_grouped_transposed_and_matrix_products(tmp_path: Path) -> None:
    from lumaflow.build.graph_cost import graph_gflop

    path = _graph(tmp_path / "costed.onnx")
    pixels = SIDE * SIDE
    conv = pixels * FEATURES * CHANNELS * 9  # every output element reads 3 channels x 3 x 3
    depthwise = pixels * FEATURES * 9  # one input channel per group
    transposed = pixels * FEATURES * 4 * 2 * 2  # every input element feeds 4 channels x 2 x 2
    matmul = FEATURES * SIDE * 4 * SIDE  # [1, 8, 16, 4] outputs, each a 16-long dot product
    expected = 2 * (conv + depthwise + transposed + matmul) / 1e9
    assert graph_gflop(path, {"PIXELS": (1, CHANNELS, SIDE, SIDE)}) == pytest.approx(expected, rel=1e-12)
    # the same graph on a wider input: the matrix product's rows stay W long, the rest grows with the pixels
    wide = graph_gflop(path, {"PIXELS": (1, CHANNELS, 2 * SIDE, SIDE)})
    assert wide == pytest.approx(2 * expected, rel=1e-12)
