"""Read ncnn models (``.param`` text + ``.bin`` weights) into numpy.

Only the reader lives here, and no ncnn code runs; `lumaflow.build.ncnn_convert` maps the graphs read onto our
torch architectures (waifu2x, Real-ESRGAN, SRMD). Format, as ncnn writes it:

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
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

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
    """One line of a .param file: the layer's type and name, its input and output blobs, its raw parameters."""

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
