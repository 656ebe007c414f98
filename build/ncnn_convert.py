"""Map ncnn graphs (read by `lumaflow.build.ncnn`) onto our torch architectures' state dicts: waifu2x's
upconv_7, Real-ESRGAN's RRDBNet and SRMD.

Bigger graphs (Real-ESRGAN's RRDBNet: 999 layers) are mapped by `match_program`: we write down the
computation our torch module does as a list of `Op`s, and the ncnn graph must be exactly that
computation, layer by layer (``Split`` layers, which only fan a blob out, are looked through). So a
mapping never relies on layer names or on convolution order alone: every input of every layer is checked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from lumaflow.build.ncnn import NcnnFormatError, NcnnGraph, NcnnLayer, ParamValue


def _layer_state(name: str, weight: np.ndarray, bias: np.ndarray) -> dict[str, torch.Tensor]:
    """``<name>.weight`` and ``<name>.bias`` as torch tensors (contiguous copies of the ncnn arrays)."""
    return {
        f"{name}.weight": torch.from_numpy(np.ascontiguousarray(weight)),
        f"{name}.bias": torch.from_numpy(np.ascontiguousarray(bias)),
    }


# --- waifu2x upconv_7 -> torch -----------------------------------------------------------------------

UPCONV7_PREPADDING = 7  # replicate-pad the input by this much per side (waifu2x-ncnn-vulkan's `prepadding`)


def upconv7_state_dict(graph: NcnnGraph) -> dict[str, torch.Tensor]:
    """Map a waifu2x upconv_7 ncnn graph onto `lumaflow.build.arch.waifu2x.UpConv7`'s state dict.

    Expects: Input, six 3x3 stride-1 unpadded Convolutions with bias and leaky ReLU 0.1, then one
    4x4 stride-2 Deconvolution with bias, pad 3 and no activation, chained blob to blob.
    """
    layers = [layer for layer in graph.layers if layer.type != "Input"]
    kinds = [layer.type for layer in layers]
    if kinds != ["Convolution"] * 6 + ["Deconvolution"]:
        raise NcnnFormatError(f"not a waifu2x upconv_7 graph: layer types {kinds}")
    state: dict[str, torch.Tensor] = {}
    previous: str | None = None
    for index, layer in enumerate(layers):
        conv = layer.conv
        if previous is not None and layer.inputs != (previous,):
            raise NcnnFormatError(f"layer {layer.name} does not take the previous layer's output {previous}")
        previous = layer.outputs[0]
        last = index == len(layers) - 1
        expected = (
            ((4, 4), (2, 2), (3, 3, 3, 3), None, ()) if last else ((3, 3), (1, 1), (0, 0, 0, 0), "leakyrelu", (0.1,))
        )
        got = (conv.kernel, conv.stride, conv.pad, conv.activation, conv.activation_params)
        if got != expected or conv.dilation != (1, 1) or not conv.bias_term or conv.output_pad != (0, 0):
            raise NcnnFormatError(f"layer {layer.name} is not upconv_7's: kernel/stride/pad/activation {got}")
        weight = layer.weights["weight"]
        if last:
            weight = weight.transpose(1, 0, 2, 3)  # ncnn [out][in][kh][kw] -> torch ConvTranspose2d [in][out]
        state |= _layer_state(f"net.{2 * index}", weight, layer.weights["bias"])
    return state


# --- matching a graph against the computation we expect -------------------------------------------------

GRAPH_INPUT = "input"  # the `Op` name of the graph's (single) Input blob

# ncnn's defaults for the raw params that `Op.params` may check.
_PARAM_DEFAULTS: dict[tuple[str, int], ParamValue] = {
    ("BinaryOp", 0): 0,
    ("Concat", 0): 0,
    ("Eltwise", 0): 0,
    ("Interp", 0): 0,
    ("PixelShuffle", 1): 0,
}
_COMMUTATIVE = frozenset({"Eltwise", "BinaryOp"})


@dataclass(frozen=True)
class Op:
    """One layer we expect: its ncnn type, our name for its output, and the names of its inputs.

    `conv` checks `ConvParams` fields by name (e.g. ``{"kernel": (3, 3), "activation": None}``);
    `params` checks raw param ids (ncnn defaults filled in); `coeffs` are Eltwise's per-input
    coefficients. Eltwise and BinaryOp inputs may come in any order (each with its coefficient).
    """

    kind: str
    name: str
    inputs: tuple[str, ...]
    conv: Mapping[str, object] = field(default_factory=dict)
    params: Mapping[int, ParamValue] = field(default_factory=dict)
    coeffs: tuple[float, ...] | None = None


def _close(a: ParamValue | None, b: ParamValue) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    return False


def match_program(graph: NcnnGraph, program: Sequence[Op], what: str = "graph") -> dict[str, NcnnLayer]:
    """Check that `graph` computes exactly `program`; return our op name -> its ncnn layer.

    Layers are matched in order (an ONNX->ncnn conversion keeps the torch execution order). Raises
    `NcnnFormatError` naming the first layer that differs: its type, an input, or a parameter.
    """
    alias: dict[str, str] = {}  # ncnn blob -> our op name
    matched: dict[str, NcnnLayer] = {}
    steps = iter(program)
    for layer in graph.layers:
        if layer.type == "Input":
            if alias:
                raise NcnnFormatError(f"{what}: a second Input layer {layer.name}")
            alias[layer.outputs[0]] = GRAPH_INPUT
            continue
        try:
            inputs = tuple(alias[blob] for blob in layer.inputs)
        except KeyError as missing:
            raise NcnnFormatError(f"{what}: layer {layer.name} reads blob {missing} before it is made") from None
        if layer.type == "Split":
            alias.update(dict.fromkeys(layer.outputs, inputs[0]))
            continue
        op = next(steps, None)
        if op is None:
            raise NcnnFormatError(f"{what}: layer {layer.name} ({layer.type}) is more than the expected computation")
        where = f"{what}: layer {layer.name} (expected {op.kind} {op.name})"
        if layer.type != op.kind or len(layer.outputs) != 1:
            raise NcnnFormatError(f"{where} is a {layer.type} with {len(layer.outputs)} outputs")
        if op.coeffs is not None:
            got_coeffs = layer.params.get(1, ())
            if not isinstance(got_coeffs, tuple) or len(got_coeffs) != len(inputs):
                raise NcnnFormatError(f"{where}: coefficients {got_coeffs!r}")
            got = sorted(zip(inputs, (float(c) for c in got_coeffs), strict=True))
            want = sorted(zip(op.inputs, op.coeffs, strict=True))
            ok = [a for a, _ in got] == [a for a, _ in want] and all(
                math.isclose(x, y, rel_tol=1e-6) for (_, x), (_, y) in zip(got, want, strict=True)
            )
        elif op.kind in _COMMUTATIVE:
            ok = sorted(inputs) == sorted(op.inputs)
        else:
            ok = inputs == op.inputs
        if not ok:
            raise NcnnFormatError(f"{where} reads {inputs}, expected {op.inputs}")
        for key, value in op.params.items():
            if not _close(layer.params.get(key, _PARAM_DEFAULTS.get((layer.type, key))), value):
                raise NcnnFormatError(f"{where}: param {key} = {layer.params.get(key)!r}, expected {value!r}")
        if op.conv:
            conv = layer.conv
            for attr, wanted in op.conv.items():
                if getattr(conv, attr) != wanted:
                    raise NcnnFormatError(f"{where}: {attr} = {getattr(conv, attr)!r}, expected {wanted!r}")
        alias[layer.outputs[0]] = op.name
        matched[op.name] = layer
    left = next(steps, None)
    if left is not None:
        raise NcnnFormatError(f"{what}: ends before the expected {left.kind} {left.name}")
    return matched


def _conv3x3(name: str, source: str, num_output: int, in_channels: int, activation: str | None, slope: float) -> Op:
    return Op(
        "Convolution",
        name,
        (source,),
        conv={
            "num_output": num_output,
            "in_channels": in_channels,
            "kernel": (3, 3),
            "stride": (1, 1),
            "dilation": (1, 1),
            "pad": (1, 1, 1, 1),
            "bias_term": True,
            "activation": activation,
            "activation_params": (slope,) if activation == "leakyrelu" else (),
        },
    )


def _conv_state(matched: Mapping[str, NcnnLayer], program: Sequence[Op]) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = {}
    for op in program:
        if op.kind == "Convolution":
            layer = matched[op.name]
            state |= _layer_state(op.name, layer.weights["weight"], layer.weights["bias"])
    return state


# --- Real-ESRGAN RRDBNet -> torch ------------------------------------------------------------------------

RRDB_SCALE = 0.2  # residual scaling inside RDBs and RRDBs (BasicSR's RRDBNet)
_RRDB_SLOPE = 0.2  # LeakyReLU slope


def rrdbnet_program(
    num_block: int, num_feat: int = 64, num_grow_ch: int = 32, in_channels: int = 3, out_channels: int = 3
) -> list[Op]:
    """The ×4 RRDBNet (BasicSR / Real-ESRGAN x4plus) as ncnn layers, names = our state-dict prefixes.

    ``conv_first``; per block ``body.i`` three dense blocks ``rdb1..3`` (conv1..conv5 over the
    concatenation of the block input and every earlier conv's output, LeakyReLU 0.2 but on conv5;
    out = 0.2 * conv5 + in), then out = 0.2 * rdb3 + in; ``conv_body``; feat + body; twice nearest ×2
    and a LeakyReLU conv (``conv_up1``, ``conv_up2``); ``conv_hr`` (LeakyReLU); ``conv_last``.
    """
    lrelu = "leakyrelu"
    ops = [_conv3x3("conv_first", GRAPH_INPUT, num_feat, in_channels, None, 0)]
    x = "conv_first"
    for i in range(num_block):
        block_in = x
        for j in (1, 2, 3):
            rdb = f"body.{i}.rdb{j}"
            dense = [x]
            for k in range(1, 6):
                source = dense[0]
                if k > 1:
                    source = f"{rdb}.cat{k}"
                    ops.append(Op("Concat", source, tuple(dense), params={0: 0}))
                last = k == 5
                ops.append(
                    _conv3x3(
                        f"{rdb}.conv{k}",
                        source,
                        num_feat if last else num_grow_ch,
                        num_feat + (k - 1) * num_grow_ch,
                        None if last else lrelu,
                        _RRDB_SLOPE,
                    )
                )
                dense.append(f"{rdb}.conv{k}")
            ops.append(Op("Eltwise", rdb, (f"{rdb}.conv5", x), params={0: 1}, coeffs=(RRDB_SCALE, 1.0)))
            x = rdb
        ops.append(Op("Eltwise", f"body.{i}", (x, block_in), params={0: 1}, coeffs=(RRDB_SCALE, 1.0)))
        x = f"body.{i}"
    ops.append(_conv3x3("conv_body", x, num_feat, num_feat, None, 0))
    ops.append(Op("BinaryOp", "trunk", ("conv_first", "conv_body"), params={0: 0}))
    x = "trunk"
    for n in (1, 2):
        ops.append(Op("Interp", f"up{n}", (x,), params={0: 1, 1: 2.0, 2: 2.0}))
        ops.append(_conv3x3(f"conv_up{n}", f"up{n}", num_feat, num_feat, lrelu, _RRDB_SLOPE))
        x = f"conv_up{n}"
    ops.append(_conv3x3("conv_hr", x, num_feat, num_feat, lrelu, _RRDB_SLOPE))
    ops.append(_conv3x3("conv_last", "conv_hr", out_channels, num_feat, None, 0))
    return ops


def rrdbnet_state_dict(graph: NcnnGraph) -> dict[str, torch.Tensor]:
    """Map a Real-ESRGAN ×4 RRDBNet ncnn graph onto `lumaflow.build.arch.rrdbnet.RRDBNet`'s state dict.

    The block count and widths are read from the graph (convolution count = 1 + 15 * blocks + 5),
    then the whole graph must match `rrdbnet_program` (see `match_program`).
    """
    convs = [layer for layer in graph.layers if layer.type == "Convolution"]
    if len(convs) < 21 or (len(convs) - 6) % 15:
        raise NcnnFormatError(f"not an RRDBNet graph: {len(convs)} convolutions (expected 1 + 15 * blocks + 5)")
    first, grow = convs[0].conv, convs[1].conv
    program = rrdbnet_program(
        num_block=(len(convs) - 6) // 15,
        num_feat=first.num_output,
        num_grow_ch=grow.num_output,
        in_channels=first.in_channels,
        out_channels=convs[-1].conv.num_output,
    )
    return _conv_state(match_program(graph, program, "RRDBNet"), program)


# --- SRMD -> torch -----------------------------------------------------------------------------------


def srmd_program(
    scale: int, in_channels: int, out_channels: int = 3, features: int = 128, num_convs: int = 12
) -> list[Op]:
    """SRMD: `num_convs` 3x3 convs (ReLU but the last, which gives out * scale² planes), PixelShuffle."""
    ops = []
    previous, width = GRAPH_INPUT, in_channels
    for i in range(num_convs):
        last = i == num_convs - 1
        num_output = out_channels * scale * scale if last else features
        ops.append(_conv3x3(f"convs.{i}", previous, num_output, width, None if last else "relu", 0))
        previous, width = f"convs.{i}", num_output
    ops.append(Op("PixelShuffle", "shuffle", (previous,), params={0: scale, 1: 0}))  # mode 0: torch's order
    return ops


def srmd_state_dict(graph: NcnnGraph) -> dict[str, torch.Tensor]:
    """Map an srmd-ncnn-vulkan ``srmd_x*``/``srmdnf_x*`` graph onto `lumaflow.build.arch.srmd.SRMD`'s keys."""
    convs = [layer for layer in graph.layers if layer.type == "Convolution"]
    shuffle = [layer for layer in graph.layers if layer.type == "PixelShuffle"]
    if len(convs) < 2 or len(shuffle) != 1:
        raise NcnnFormatError(f"not an SRMD graph: layer types {sorted(set(graph.types))}")
    scale = shuffle[0].int_param(0, 1)
    last = convs[-1].conv.num_output
    if scale < 1 or last % (scale * scale):
        raise NcnnFormatError(f"not an SRMD graph: {last} output planes for PixelShuffle({scale})")
    program = srmd_program(
        scale=scale,
        in_channels=convs[0].conv.in_channels,
        out_channels=last // (scale * scale),
        features=convs[0].conv.num_output,
        num_convs=len(convs),
    )
    return _conv_state(match_program(graph, program, "SRMD"), program)
