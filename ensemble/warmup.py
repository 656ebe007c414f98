"""Warmup requests Triton runs on each composing model before marking it ready.

Triton refuses ``model_warmup`` on ensembles, so the models inside them are warmed: each
pipeline's decode with a real photo (``warmup_sample.jpg``: a 256x256 crop of scikit-image's
public-domain astronaut; random bytes would fail a validating decoder), and each neural stage with
random pixels at its tile size (an ONNX graph does not care what the pixels show, only their
shape: the first call allocates ONNX Runtime's arenas and picks its kernels). Tilers and encode
are not warmed: a tiler's BLS call could reach a stage that is not loaded yet, and encode needs
decode's META.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Mapping
from pathlib import Path

from lumaflow import contract

from .config import DataType, Tensor, Warmup, WarmupInput
from .looks import TEMPLATE_NAMES
from .stages import Stage

SAMPLE = Path(__file__).with_name("warmup_sample.jpg")
SAMPLE_DATA_FILE = "sample_image"  # in <decode model>/warmup/, generated from SAMPLE
MASK_DATA_FILE = "sample_mask"  # a PNG mask of SAMPLE's size, for pipelines that take a MASK
OPTIONS_DATA_FILE = "sample_options"
SAMPLE_SIDE = 256
# A decode warmed with the sample must not ask the analysis network by BLS: that model may not be
# loaded yet while this one warms. Giving the noise level is what a client may do as well.
# A pipeline that requires a key (stylize's template) is given its first value.
WARMUP_OPTIONS = {"noise_level": 10, "template": TEMPLATE_NAMES[0]}
CAMERA_FRAME = (240, 320)  # a camera stage's frames have no fixed size; warm at the benchmark size


def _serialized(data: bytes) -> bytes:
    """Bytes as Triton reads a TYPE_STRING warmup file: each item a 4-byte little-endian length + bytes."""
    return struct.pack("<I", len(data)) + data


def serialized_sample() -> bytes:
    return _serialized(SAMPLE.read_bytes())


def serialized_mask() -> bytes:
    """A PNG mask of the sample's size with a 40x60 hole (greyscale, white = remove)."""
    from PIL import Image, ImageDraw

    mask = Image.new("L", (SAMPLE_SIDE, SAMPLE_SIDE), 0)
    ImageDraw.Draw(mask).rectangle((100, 90, 159, 129), fill=255)
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG")
    return _serialized(buffer.getvalue())


def serialized_options(options: Mapping[str, object]) -> bytes:
    return _serialized(json.dumps(options, sort_keys=True).encode())


def decode_warmup_files(inputs: tuple[Tensor, ...], option_names: tuple[str, ...]) -> dict[str, bytes]:
    """The files a pipeline's decode warmup reads, by file name."""
    files = {SAMPLE_DATA_FILE: serialized_sample()}
    if any(tensor.name == contract.MASK.name for tensor in inputs):
        files[MASK_DATA_FILE] = serialized_mask()
    options = {name: value for name, value in WARMUP_OPTIONS.items() if name in option_names}
    if options:
        files[OPTIONS_DATA_FILE] = serialized_options(options)
    return files


def decode_warmups(inputs: tuple[Tensor, ...], option_names: tuple[str, ...]) -> tuple[Warmup, ...]:
    """A real photo (and mask, and options when needed) through a pipeline's decode."""
    files = decode_warmup_files(inputs, option_names)
    by_input = {contract.IMAGE.name: SAMPLE_DATA_FILE, contract.MASK.name: MASK_DATA_FILE}
    by_input[contract.OPTIONS.name] = OPTIONS_DATA_FILE
    warm = {
        tensor.name: WarmupInput(tensor.dtype, tensor.dims, input_data_file=by_input[tensor.name])
        for tensor in inputs
        if by_input.get(tensor.name) in files
    }
    return (Warmup(name="real photo", inputs=warm),)


def stage_warmups(stage: Stage) -> tuple[Warmup, ...]:
    """One random request at the shape the stage mostly sees: its tile, or a camera frame."""
    if stage.network is None:
        return ()
    size = stage.warmup_size or ((stage.tiling.tile, stage.tiling.tile) if stage.tiling else CAMERA_FRAME)
    pixels, *side = stage.inputs
    if len(size) != len(pixels.dims) - 1:
        raise ValueError(f"{stage.name}: warmup_size {size} does not fit {pixels.name} {pixels.dims}")
    height, width = size[-2:]
    inputs = {pixels.name: WarmupInput(pixels.dtype, (*size, pixels.dims[-1]), random_data=True)}
    for tensor in side:  # per-image values keep their dims; per-pixel ones (HOLE) take the pixels' size
        dims = (height, width, *tensor.dims[2:]) if tensor.dims[:2] == (-1, -1) else tensor.dims
        # An index or a bounded value (TEMPLATE, STRENGTH) is zero, inside its range; random bytes are out of it.
        bounded = tensor.value_range is not None or tensor.dtype is DataType.INT32
        if tensor.value_range is not None and not tensor.value_range[0] <= 0 <= tensor.value_range[1]:
            raise ValueError(f"{stage.name}: warmup sends {tensor.name} = 0, outside its range {tensor.value_range}")
        inputs[tensor.name] = WarmupInput(tensor.dtype, dims, random_data=not bounded)
    return (Warmup(name="random " + "x".join(map(str, size)), inputs=inputs),)
