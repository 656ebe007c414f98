"""Read ncnn models (``.param`` text + ``.bin`` weights) into numpy; map waifu2x, Real-ESRGAN and SRMD into torch.

Only the reader lives here; no ncnn code runs. Format, as ncnn writes it:

``.param``: a magic line ``7767517``, a ``layer_count blob_count`` line, then one line per layer::

    Type name n_inputs n_outputs input_blob... output_blob... id=value ...

A value is an int, or a float when it has a ``.`` or an exponent. Array values use the key
``-23300 - id`` and the value ``count,v0,v1,...`` (so id 10, the activation parameters, is
``-23310=1,0.100000``).

``.bin``: the layers' weights back to back, in layer order, with no names or sizes: the sizes
come from the ``.param``. Each weight blob that ncnn loads with type 0 ("auto") starts with a
4-byte tag: ``0`` means float32 follows, ``0x01306B47`` float16 (padded to 4 bytes),
``0x000D4B38`` int8 (not supported here, nor quantisation tables). Biases are loaded with type 1:
raw float32, no tag.

Layouts (checked against the ``ncnn`` package's own output in ``tests/test_ncnn_waifu2x.py``):
Convolution weights are ``[num_output][in / group][kh][kw]``, as torch's ``Conv2d``.
Deconvolution weights are ``[num_output][in][kh][kw]`` with no spatial flip, whereas torch's
``ConvTranspose2d`` wants ``[in][out][kh][kw]``: swap the first two axes, nothing else.

Bigger graphs (Real-ESRGAN's RRDBNet: 999 layers) are mapped by `match_program`: we write down the
computation our torch module does as a list of `Op`s, and the ncnn graph must be exactly that
computation, layer by layer (``Split`` layers, which only fan a blob out, are looked through). So a
mapping never relies on layer names or on convolution order alone: every input of every layer is checked.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch

MAGIC = 7767517
_ARRAY_KEY_BASE = -23300

TAG_FP32 = 0x00000000
TAG_FP16 = 0x01306B47
TAG_INT8 = 0x000D4B38

ParamValue = int | float | tuple[int | float, ...]

# Layer types that read nothing from the .bin (so the reader can skip them safely).
_WEIGHTLESS = frozenset(
    {
        "Input",
        "ReLU",
        "Split",
        "Eltwise",
        "Concat",
        "Crop",
        "Pooling",
        "Sigmoid",
        "TanH",
        "Interp",
        "PixelShuffle",
        "BinaryOp",
    }
)
_CONV_TYPES = frozenset({"Convolution", "Deconvolution", "ConvolutionDepthWise", "DeconvolutionDepthWise"})
_ACTIVATIONS = {0: None, 1: "relu", 2: "leakyrelu", 3: "clip", 4: "sigmoid", 5: "mish", 6: "hardswish"}


class NcnnFormatError(ValueError):
    """A .param or .bin that this reader cannot read (one-line message naming the file and layer)."""


@dataclass(frozen=True)
class ConvParams:
    """The typed parameters of a (De)Convolution layer, ncnn's defaults filled in."""

    num_output: int
    kernel: tuple[int, int]  # (h, w)
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pad: tuple[int, int, int, int]  # (top, left, bottom, right); deconv: cropped off the output
    bias_term: bool
    weight_data_size: int
    group: int
    activation: str | None
    activation_params: tuple[float, ...]
    output_pad: tuple[int, int] = (0, 0)  # deconv only: (bottom, right)

    @property
    def in_channels(self) -> int:
        """Input channels, derived from the weight count (ncnn does not store them)."""
        per_group_out = self.num_output // self.group
        kh, kw = self.kernel
        return self.weight_data_size // (per_group_out * kh * kw)


@dataclass(frozen=True)
class NcnnLayer:
    type: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: Mapping[int, ParamValue]  # raw: id -> value (array ids as their plain id, not -233xx)
    weights: Mapping[str, np.ndarray] = field(default_factory=dict)  # "weight", "bias"; float32

    def int_param(self, key: int, default: int) -> int:
        value = self.params.get(key, default)
        if not isinstance(value, int):
            raise NcnnFormatError(f"layer {self.name}: param {key} should be an int, got {value!r}")
        return value

    @property
    def conv(self) -> ConvParams:
        """Typed parameters of a Convolution/Deconvolution layer."""
        if self.type not in _CONV_TYPES:
            raise NcnnFormatError(f"layer {self.name} is a {self.type}, not a convolution")
        p = self.int_param
        kw = p(1, 0)
        dw = p(2, 1)
        sw = p(3, 1)
        pl = p(4, 0)
        pt = p(14, pl)
        activation_type = p(9, 0)
        if activation_type not in _ACTIVATIONS:
            raise NcnnFormatError(f"layer {self.name}: unknown activation_type {activation_type}")
        raw_act = self.params.get(10, ())
        act_params = tuple(float(v) for v in (raw_act if isinstance(raw_act, tuple) else (raw_act,)))
        deconv = self.type.startswith("Deconvolution")
        return ConvParams(
            num_output=p(0, 0),
            kernel=(p(11, kw), kw),
            stride=(p(13, sw), sw),
            dilation=(p(12, dw), dw),
            pad=(pt, pl, p(16, pt), p(15, pl)),
            bias_term=bool(p(5, 0)),
            weight_data_size=p(6, 0),
            group=p(7, 1) if self.type.endswith("DepthWise") else 1,
            activation=_ACTIVATIONS[activation_type],
            activation_params=act_params,
            output_pad=(p(19, p(18, 0)), p(18, 0)) if deconv else (0, 0),
        )


@dataclass(frozen=True)
class NcnnGraph:
    layers: tuple[NcnnLayer, ...]
    blob_count: int

    def layer(self, name: str) -> NcnnLayer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(layer.type for layer in self.layers)


# --- .param --------------------------------------------------------------------------------------


def _number(text: str) -> int | float:
    return float(text) if any(c in text for c in ".eE") else int(text)


def _parse_params(tokens: Sequence[str], where: str) -> dict[int, ParamValue]:
    params: dict[int, ParamValue] = {}
    for token in tokens:
        key_text, sep, value_text = token.partition("=")
        value: ParamValue
        try:
            key = int(key_text)
            if not sep:
                raise ValueError
            if key <= _ARRAY_KEY_BASE:
                count_text, *items = value_text.split(",")
                count, value = int(count_text), tuple(_number(v) for v in items)
            else:
                count, value = -1, _number(value_text)
        except ValueError:
            raise NcnnFormatError(f"{where}: bad param {token!r}") from None
        if isinstance(value, tuple):
            if count != len(value):
                raise NcnnFormatError(f"{where}: array param {token!r} announces {count} values, has {len(value)}")
            key = _ARRAY_KEY_BASE - key
        params[key] = value
    return params


def parse_param(text: str, source: str = "<param>") -> NcnnGraph:
    """Parse a text ``.param`` into a graph whose layers have no weights; `source` names it in errors."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != str(MAGIC):
        raise NcnnFormatError(f"{source}: not a text ncnn .param (first line is not {MAGIC})")
    try:
        layer_count, blob_count = (int(v) for v in lines[1].split())
    except (IndexError, ValueError):
        raise NcnnFormatError(f"{source}: line 2 should be 'layer_count blob_count'") from None
    if len(lines) - 2 != layer_count:
        raise NcnnFormatError(f"{source}: announces {layer_count} layers, has {len(lines) - 2}")
    layers = []
    for number, line in enumerate(lines[2:], start=3):
        tokens = line.split()
        where = f"{source}:{number}"
        try:
            kind, name, n_in, n_out = tokens[0], tokens[1], int(tokens[2]), int(tokens[3])
        except (IndexError, ValueError):
            raise NcnnFormatError(f"{where}: expected 'Type name n_in n_out ...'") from None
        blobs = tokens[4 : 4 + n_in + n_out]
        if len(blobs) != n_in + n_out or any("=" in b for b in blobs):
            raise NcnnFormatError(f"{where}: layer {name} lists fewer blobs than {n_in} in + {n_out} out")
        params = _parse_params(tokens[4 + n_in + n_out :], where)
        layers.append(NcnnLayer(kind, name, tuple(blobs[:n_in]), tuple(blobs[n_in:]), MappingProxyType(params)))
    return NcnnGraph(tuple(layers), blob_count)


# --- .bin ----------------------------------------------------------------------------------------


class _BinReader:
    def __init__(self, data: bytes, source: str) -> None:
        self.data = data
        self.offset = 0
        self.source = source

    def _take(self, size: int, what: str) -> bytes:
        end = self.offset + size
        if end > len(self.data):
            raise NcnnFormatError(f"{self.source}: ends at byte {len(self.data)} inside {what}")
        chunk = self.data[self.offset : end]
        self.offset = end
        return chunk

    def raw_fp32(self, count: int, what: str) -> np.ndarray:
        return np.frombuffer(self._take(4 * count, what), dtype="<f4").astype(np.float32)

    def auto(self, count: int, what: str) -> np.ndarray:
        """ncnn's ``ModelBin::load(w, 0)``: a 4-byte tag says how the values are stored."""
        tag = int.from_bytes(self._take(4, what), "little")
        if tag == TAG_FP32:
            return self.raw_fp32(count, what)
        if tag == TAG_FP16:
            size = 2 * count
            data = self._take((size + 3) // 4 * 4, what)[:size]
            return np.frombuffer(data, dtype="<f2").astype(np.float32)
        if tag == TAG_INT8:
            raise NcnnFormatError(f"{self.source}: {what} is stored as int8 (tag 0x{tag:08X}); not supported")
        raise NcnnFormatError(
            f"{self.source}: {what} has storage tag 0x{tag:08X} (quantisation table?); only fp32 and fp16 are supported"
        )


def _read_layer_weights(layer: NcnnLayer, reader: _BinReader) -> dict[str, np.ndarray]:
    if layer.type in _WEIGHTLESS:
        return {}
    if layer.type not in _CONV_TYPES:
        raise NcnnFormatError(f"{reader.source}: cannot read weights of layer {layer.name} (type {layer.type})")
    conv = layer.conv
    if layer.int_param(8, 0):
        raise NcnnFormatError(f"{reader.source}: layer {layer.name} is int8-quantised (8=1); not supported")
    if layer.int_param(19 if layer.type.startswith("Convolution") else 28, 0):
        raise NcnnFormatError(f"{reader.source}: layer {layer.name} takes dynamic weights; not supported")
    kh, kw = conv.kernel
    per_input = conv.num_output // conv.group * kh * kw
    if per_input <= 0 or conv.weight_data_size <= 0 or conv.weight_data_size % per_input:
        raise NcnnFormatError(f"{reader.source}: layer {layer.name}: weight_data_size does not fit its kernel")
    flat = reader.auto(conv.weight_data_size, f"layer {layer.name} weights")
    # Both Convolution and Deconvolution store [num_output][in / group][kh][kw].
    weights = {"weight": flat.reshape(conv.num_output, conv.in_channels // conv.group, kh, kw)}
    if conv.bias_term:
        weights["bias"] = reader.raw_fp32(conv.num_output, f"layer {layer.name} bias")
    return weights


def read_ncnn(param_path: str | os.PathLike[str], bin_path: str | os.PathLike[str]) -> NcnnGraph:
    """Read a text ``.param`` and its ``.bin``: every layer with typed params and float32 weights.

    Weights keep ncnn's layout (see the module docstring); the whole ``.bin`` must be consumed.
    """
    param, weights = Path(param_path), Path(bin_path)
    graph = parse_param(param.read_text(encoding="utf-8"), param.name)
    reader = _BinReader(weights.read_bytes(), weights.name)
    loaded = tuple(
        NcnnLayer(
            layer.type,
            layer.name,
            layer.inputs,
            layer.outputs,
            layer.params,
            MappingProxyType(_read_layer_weights(layer, reader)),
        )
        for layer in graph.layers
    )
    if reader.offset != len(reader.data):
        raise NcnnFormatError(
            f"{weights.name}: {len(reader.data) - reader.offset} bytes left after the last layer "
            f"(wrong .param for this .bin?)"
        )
    return NcnnGraph(loaded, graph.blob_count)


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
        key = f"net.{2 * index}"
        state[f"{key}.weight"] = torch.from_numpy(np.ascontiguousarray(weight))
        state[f"{key}.bias"] = torch.from_numpy(np.ascontiguousarray(layer.weights["bias"]))
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
            state[f"{op.name}.weight"] = torch.from_numpy(np.ascontiguousarray(layer.weights["weight"]))
            state[f"{op.name}.bias"] = torch.from_numpy(np.ascontiguousarray(layer.weights["bias"]))
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
