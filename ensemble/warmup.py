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

import struct
from pathlib import Path

from . import contract
from .config import Warmup, WarmupInput
from .stages import Stage

SAMPLE = Path(__file__).with_name("warmup_sample.jpg")
SAMPLE_DATA_FILE = "sample_image"  # in <decode model>/warmup/, generated from SAMPLE
CAMERA_FRAME = (240, 320)  # a camera stage's frames have no fixed size; warm at the benchmark size


def serialized_sample() -> bytes:
    """SAMPLE as Triton reads a TYPE_STRING warmup file: each item a 4-byte little-endian length + bytes."""
    data = SAMPLE.read_bytes()
    return struct.pack("<I", len(data)) + data


def decode_warmups() -> tuple[Warmup, ...]:
    image = WarmupInput(contract.IMAGE.dtype, contract.IMAGE.dims, input_data_file=SAMPLE_DATA_FILE)
    return (Warmup(name="real photo", inputs={contract.IMAGE.name: image}),)


def stage_warmups(stage: Stage) -> tuple[Warmup, ...]:
    """One random request at the shape the stage mostly sees: its tile, or a camera frame."""
    if stage.network is None:
        return ()
    height, width = (stage.tiling.tile, stage.tiling.tile) if stage.tiling else CAMERA_FRAME
    pixels, *side = stage.inputs
    inputs = {pixels.name: WarmupInput(pixels.dtype, (height, width, 3), random_data=True)}
    inputs.update({tensor.name: WarmupInput(tensor.dtype, tensor.dims, random_data=True) for tensor in side})
    return (Warmup(name=f"random {height}x{width}", inputs=inputs),)
