"""int8 static quantisation of the served uint8 -> uint8 ONNX graphs for ONNX Runtime on CPU.

Only the inner learned convolutions are quantised (QDQ, uint8 activations, per-channel int8
weights): the fixed bicubic skip, the final Add/Clip/Round and the pixel casts stay float, because
the skip carries most of the image and an 8-bit step there lands directly on the output, while the
learned features tolerate it. Calibration uses photos that are never evaluated on, and MinMax
ranges: Percentile and Entropy were no better on these small residual nets and several times slower.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from PIL import Image

# scikit-image photos that are not in `photos.EVAL_PHOTOS`, so calibration never sees test data.
CALIBRATION_FILES: tuple[str, ...] = ("motorcycle_left.png", "motorcycle_right.png", "hubble_deep_field.jpg")

CALIBRATE_METHOD = CalibrationMethod.MinMax
FUSABLE_ACTIVATIONS = ("Relu", "LeakyRelu")
PER_CHANNEL = True
EXTRA_OPTIONS: dict[str, object] = {"ActivationSymmetric": False, "WeightSymmetric": True}


def _skimage_data_dir() -> Path:
    import skimage

    return Path(skimage.__file__).parent / "data"


def _low_res(name: str) -> np.ndarray:
    """A calibration photo halved with Pillow bicubic: the detail level of a low-res camera frame."""
    with Image.open(_skimage_data_dir() / name) as im:
        rgb = im.convert("RGB")
        return np.asarray(rgb.resize((rgb.width // 2, rgb.height // 2), Image.Resampling.BICUBIC))


def _offsets(extent: int, crop: int, steps: int) -> list[int]:
    """`steps` crop starts spread evenly from 0 to the last position that fits."""
    last = extent - crop
    if last < 0:
        raise ValueError(f"calibration photo side {extent} is smaller than the crop {crop}")
    return [round(last * i / (steps - 1)) if steps > 1 else 0 for i in range(steps)]


def calibration_frames(count: int = 16, size: tuple[int, int] = (240, 320)) -> list[np.ndarray]:
    """`count` uint8 [1, H, W, 3] crops of `size` (H, W), taken round-robin from `CALIBRATION_FILES`.

    Crop positions walk a 3x3 grid per photo so consecutive frames differ; the result is the same
    on every call, so a quantised model is reproducible.
    """
    if count < 1:
        raise ValueError("count must be >= 1")
    height, width = size
    photos = [_low_res(name) for name in CALIBRATION_FILES]
    frames = []
    for i in range(count):
        photo = photos[i % len(photos)]
        k = (i // len(photos)) % 9
        top = _offsets(photo.shape[0], height, 3)[k // 3]
        left = _offsets(photo.shape[1], width, 3)[k % 3]
        frames.append(np.ascontiguousarray(photo[None, top : top + height, left : left + width]))
    return frames


class _Frames(CalibrationDataReader):
    """Feeds the calibration frames to ONNX Runtime's calibrator under the graph's input name."""

    def __init__(self, input_name: str, frames: Sequence[np.ndarray]) -> None:
        self._input_name = input_name
        self._frames = list(frames)
        self._it: Iterator[np.ndarray] = iter(self._frames)

    def get_next(self) -> dict[str, np.ndarray] | None:
        frame = next(self._it, None)
        return None if frame is None else {self._input_name: frame}

    def rewind(self) -> None:
        self._it = iter(self._frames)


def float_nodes(model: onnx.ModelProto) -> list[str]:
    """Nodes kept float: all but the learned Convs between the first and the last one.

    Learned Convs are told apart from the fixed bicubic kernel by their bias (our exports give the
    fixed kernel none), not by generated node names. The first Conv sees raw pixels (3 or 12 input
    planes: too few for int8 to pay) and the last one writes the residual that lands on the output
    unfiltered; on espcn_x2 quantising them cost 0.09 dB for no measurable speed.
    """
    learned = [n.name for n in model.graph.node if n.op_type == "Conv" and len(n.input) == 3]
    quantised = set(learned[1:-1])
    # A LeakyRelu/Relu right after a quantised conv is quantised with it, so ONNX Runtime can run the
    # pair in int8 instead of dequantising around a float activation (PReLU has no int8 kernel).
    producer = {output: node.name for node in model.graph.node for output in node.output}
    for node in model.graph.node:
        if node.op_type in FUSABLE_ACTIVATIONS and producer.get(node.input[0]) in quantised:
            quantised.add(node.name)
    return [n.name for n in model.graph.node if n.name not in quantised]


def quantize_int8(
    fp32_path: str | os.PathLike[str], out_path: str | os.PathLike[str], frames: Sequence[np.ndarray]
) -> dict[str, object]:
    """Write an int8 QDQ copy of `fp32_path` to `out_path` atomically; return how it was made."""
    if not frames:
        raise ValueError("give at least one calibration frame")
    model = onnx.load(os.fspath(fp32_path))
    excluded = float_nodes(model)
    quantised = [n.name for n in model.graph.node if n.name not in set(excluded)]
    input_name = model.graph.input[0].name
    target = Path(out_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # ONNX Runtime's quantiser logs a pre-processing hint on every call
    try:
        quantize_static(
            model,
            tmp,
            _Frames(input_name, frames),
            quant_format=QuantFormat.QDQ,
            per_channel=PER_CHANNEL,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=excluded,
            calibrate_method=CALIBRATE_METHOD,
            extra_options=dict(EXTRA_OPTIONS),
        )
        os.replace(tmp, target)
    finally:
        root.setLevel(level)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return {
        "format": "QDQ",
        "activations": "QUInt8",
        "weights": "QInt8",
        "per_channel": PER_CHANNEL,
        "calibration": CALIBRATE_METHOD.name,
        "frames": len(frames),
        "nodes_quantised": quantised,
        "nodes_excluded": excluded,
    }
