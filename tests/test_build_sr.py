"""The committed x2 ESPCN: registry loading, served ONNX graph, quality vs bicubic, and training."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from lumaflow.build.arch.espcn import ESPCN
from lumaflow.build.artifacts import sha256_file
from lumaflow.build.eval import bicubic_x2, downscale_x2, upscale, y_psnr
from lumaflow.build.export import export_onnx, verify_float_onnx, verify_onnx
from lumaflow.build.photos import eval_photos
from lumaflow.build.pixels import PixelsGraph
from lumaflow.build.registry import (
    REGISTRY,
    ModelDescriptor,
    _build_registry,
    load_file,
    load_state_dict,
)
from lumaflow.build.train_sr import WEIGHTS_DIR, main

pytestmark = pytest.mark.build

WEIGHTS = WEIGHTS_DIR / "espcn_x2.pt"


@pytest.fixture(scope="module")
def descriptor() -> ModelDescriptor:
    return load_file(WEIGHTS)


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    return eval_photos()


@pytest.fixture(scope="module")
def served_onnx(descriptor: ModelDescriptor, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(PixelsGraph(descriptor.model), tmp_path_factory.mktemp("onnx") / "espcn_x2.onnx")


def _crops(photo: np.ndarray, shapes: list[tuple[int, int, int]]) -> list[np.ndarray]:
    """Batches of real-photo crops at different offsets, uint8 NHWC."""
    return [np.stack([photo[17 * i : 17 * i + h, 23 * i : 23 * i + w] for i in range(n)]) for n, h, w in shapes]


def test_registry_loads_committed_weights(descriptor: ModelDescriptor) -> None:
    assert descriptor.architecture == "ESPCN"
    assert (descriptor.scale, descriptor.in_channels, descriptor.out_channels) == (2, 3, 3)
    assert descriptor.size_multiple == 1
    assert not descriptor.model.training
    with torch.inference_mode():
        out = descriptor.model(torch.rand(1, 3, 13, 21))
    assert out.shape == (1, 3, 26, 42)
    assert WEIGHTS.stat().st_size < 1_000_000
    entry = json.loads((WEIGHTS_DIR / "manifest.json").read_text())["networks"]["espcn_x2"]
    assert entry["sha256"] == sha256_file(WEIGHTS)
    assert entry["hyperparameters"] == dict(descriptor.hyperparameters)


def test_registry_rebuilds_other_hyperparameters() -> None:
    model = ESPCN(scale=3, features=16, mid_features=8, num_body=2)
    loaded = load_state_dict(model.state_dict())
    assert loaded.scale == 3
    assert dict(loaded.hyperparameters)["num_body"] == 2
    assert loaded.model(torch.rand(1, 3, 5, 7)).shape == (1, 3, 15, 21)


def test_unknown_state_dict_names_its_keys() -> None:
    with pytest.raises(ValueError, match=r"unknown architecture.*conv1\.weight"):
        load_state_dict({"conv1.weight": torch.zeros(8, 3, 3, 3), "conv1.bias": torch.zeros(8)})
    damaged = {k: v for k, v in ESPCN().state_dict().items() if k != "tail.bias"}
    with pytest.raises(ValueError, match=r"tail\.weight"):
        load_state_dict(damaged)


def test_registry_rejects_duplicate_names() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        _build_registry([REGISTRY["ESPCN"], REGISTRY["ESPCN"]])


def test_onnx_graph_has_dynamic_uint8_interface(served_onnx: Path, photos: dict[str, np.ndarray]) -> None:
    session = ort.InferenceSession(str(served_onnx), providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, inp.type, out.name, out.type) == ("PIXELS", "tensor(uint8)", "UPSCALED", "tensor(uint8)")
    for x in _crops(photos["coffee"], [(2, 40, 56), (1, 64, 48)]):
        (y,) = session.run(None, {"PIXELS": x})
        assert y.dtype == np.uint8
        assert y.shape == (x.shape[0], 2 * x.shape[1], 2 * x.shape[2], 3)


def test_onnx_matches_torch(
    descriptor: ModelDescriptor, served_onnx: Path, photos: dict[str, np.ndarray], tmp_path: Path
) -> None:
    samples = _crops(photos["coffee"], [(2, 40, 56), (1, 64, 48), (2, 33, 71)])
    parity = verify_onnx(PixelsGraph(descriptor.model), served_onnx, samples)
    assert parity.max_abs_diff <= 1 and parity.frac_differing <= 1e-3
    float_path = export_onnx(descriptor.model, tmp_path / "float.onnx", input_name="x", output_name="y")
    assert verify_float_onnx(descriptor.model, float_path, samples).max_abs_diff < 1e-3


def test_verify_onnx_catches_a_different_model(
    descriptor: ModelDescriptor, served_onnx: Path, photos: dict[str, np.ndarray]
) -> None:
    other = load_state_dict(
        {k: v * 1.5 if k == "tail.weight" else v for k, v in descriptor.model.state_dict().items()}
    ).model
    with pytest.raises(AssertionError, match="disagrees"):
        verify_onnx(PixelsGraph(other), served_onnx, _crops(photos["coffee"], [(2, 40, 56), (1, 64, 48)]))


def test_committed_weights_beat_bicubic_on_astronaut(
    descriptor: ModelDescriptor, photos: dict[str, np.ndarray]
) -> None:
    hr = photos["astronaut"]
    lr = downscale_x2(hr)
    model_db = y_psnr(upscale(descriptor.model, lr), hr, border=2)
    bicubic_db = y_psnr(bicubic_x2(lr), hr, border=2)
    assert model_db > bicubic_db + 0.5, (model_db, bicubic_db)


def test_y_psnr_uses_bt601_luma_and_border() -> None:
    a = np.full((8, 8, 3), 100, np.uint8)
    b = a + np.uint8(1)
    luma_step = (65.481 + 128.553 + 24.966) / 255.0
    assert y_psnr(a, b, border=0) == pytest.approx(20 * math.log10(255.0 / luma_step))
    c = a.copy()
    c[0] = 0  # damage only the top row: a border of 1 hides it
    assert y_psnr(a, c, border=1) == math.inf
    assert y_psnr(a, c, border=0) < 30


def test_smoke_training_writes_loadable_weights(tmp_path: Path) -> None:
    committed = sha256_file(WEIGHTS)
    rc = main(["--smoke", "--steps", "5", "--out", str(tmp_path)])
    if rc == 2:
        pytest.skip("plasma-workspace-wallpapers is not installed")
    assert rc == 0
    assert load_file(tmp_path / "espcn_x2.pt").scale == 2
    entry = json.loads((tmp_path / "manifest.json").read_text())["networks"]["espcn_x2"]
    assert entry["sha256"] == sha256_file(tmp_path / "espcn_x2.pt")
    assert entry["training"]["steps"] == 5 and entry["training"]["smoke"] is True
    assert set(entry["eval"]["photos"]) == {"astronaut", "coffee", "chelsea", "rocket"}
    assert sha256_file(WEIGHTS) == committed


def test_training_is_deterministic(tmp_path: Path) -> None:
    for run in ("a", "b"):
        if main(["--smoke", "--steps", "3", "--out", str(tmp_path / run)]) == 2:
            pytest.skip("plasma-workspace-wallpapers is not installed")
    assert sha256_file(tmp_path / "a" / "espcn_x2.pt") == sha256_file(tmp_path / "b" / "espcn_x2.pt")


def test_training_without_wallpapers_says_how_to_install(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["--smoke", "--out", str(tmp_path), "--wallpapers", str(tmp_path / "absent")])
    assert rc != 0
    assert "apt-get install plasma-workspace-wallpapers" in capsys.readouterr().err
    assert not (tmp_path / "espcn_x2.pt").exists()


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_convolution_equals_torch_bicubic(scale: int) -> None:
    from lumaflow.build.arch.bicubic import BicubicUpsample

    generator = torch.Generator().manual_seed(scale)
    for shape in [(2, 3, 17, 23), (1, 3, 1, 5), (1, 3, 64, 48)]:
        x = torch.rand(shape, generator=generator)
        expected = torch.nn.functional.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
        assert torch.allclose(BicubicUpsample(scale, 3)(x), expected, atol=1e-5)
    assert "weight" not in BicubicUpsample(scale, 3).state_dict()


def test_espcn_shuffles_skip_and_residual_once_and_is_exactly_the_sum_of_both() -> None:
    """One PixelShuffle for the bicubic skip and the residual together: a shuffle is a permutation."""
    model = ESPCN(scale=2, features=8, mid_features=8, num_body=1, leaky=True).eval()
    torch.nn.init.normal_(model.tail.weight, std=0.1)  # a non-zero residual, or the sum is trivially the skip
    x = torch.rand(2, 3, 17, 23, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        y = model.act_head(model.head(x))
        for conv, act in zip(model.body, model.act_body, strict=True):
            y = act(conv(y))
        separately = model.upsample(x) + model.shuffle(model.tail(y))
        assert torch.equal(model(x), separately)
    shuffles = [n for n in torch.fx.symbolic_trace(model).graph.nodes if "shuffle" in str(n.target)]
    assert len(shuffles) == 1, shuffles


@pytest.mark.parametrize("scale", [2, 4])
def test_served_espcn_moves_uint8_phases_instead_of_shuffling(scale: int, tmp_path: Path) -> None:
    """PixelsGraph makes an ESPCN's phases uint8 and moves one axis; its bytes equal the shuffled model's."""
    model = ESPCN(scale=scale, features=8, mid_features=8, num_body=1, leaky=True).eval()
    torch.nn.init.normal_(model.tail.weight, std=0.1)
    torch.nn.init.normal_(model.tail.bias, std=0.05)  # lands in a phase-dependent place: order matters
    pixels = torch.randint(0, 256, (2, 13, 19, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        shuffled = model(pixels.permute(0, 3, 1, 2).float() / 255.0)
        expected = torch.round(shuffled.clamp(0, 1) * 255).to(torch.uint8).permute(0, 2, 3, 1)
        assert torch.equal(PixelsGraph(model)(pixels), expected)
    example = torch.zeros(2, 16, 16, 3, dtype=torch.uint8)
    path = export_onnx(PixelsGraph(model), tmp_path / "espcn.onnx", example=example)
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "DepthToSpace" not in ops and "Conv" in ops, ops
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    served = session.run(None, {"PIXELS": pixels.numpy()})[0]
    assert np.abs(served.astype(int) - expected.numpy()).max() <= 1
