"""photo_enhance over gRPC: the analysis network routes real degraded photos to the right stages."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from lumaflow.build import degrade
from lumaflow.build.eval import rgb_psnr, y_psnr
from lumaflow.build.restoration_evals import LOW_LIGHT
from tests.fixtures import astronaut, decode, encode, enhance, sporco_photo

pytestmark = pytest.mark.served


def _stages(info: dict) -> list[str]:
    return [entry["stage"] for entry in info["route"]]


def test_a_blocky_jpeg_goes_to_the_deblocker(client: grpcclient.InferenceServerClient) -> None:
    clean = sporco_photo("monarch")[:256, :384]
    data, info = enhance(client, encode(clean, "JPEG", quality=15), "photo_enhance")
    assert _stages(info) == ["deblock"], info["route"]
    assert info["analysis"]["photo"]["jpeg_quality"] <= 40
    blocky = decode(encode(clean, "JPEG", quality=15))
    assert y_psnr(decode(data), clean, 1) > y_psnr(blocky, clean, 1) + 0.5
    assert info["stages"] == ["decode", "photo_route", "deblock", "quality_check", "encode"]
    assert info["models"]["deblock"] == "deblock_tiles/1" and "deblock" in info["networks"]


def test_a_noisy_photo_goes_to_the_denoiser_with_the_analysed_level(client: grpcclient.InferenceServerClient) -> None:
    clean = astronaut()[:256, :256]
    noisy = degrade.gaussian_noise(clean, 20.0, np.random.default_rng(5))
    data, info = enhance(client, encode(noisy), "photo_enhance")
    (step,) = info["route"]
    assert step["stage"] == "ffdnet" and abs(step["noise_level"] - 20.0) <= 4.0, info["route"]
    assert rgb_psnr(decode(data), clean) > rgb_psnr(noisy, clean) + 5.0
    assert info["quality"]["output"] > info["quality"]["input"]


def test_a_dark_photo_is_lifted_and_a_scale_upscales(client: grpcclient.InferenceServerClient) -> None:
    clean = astronaut()[:200, :240]
    dark = LOW_LIGHT["ev-2.5"](clean, 0)
    data, info = enhance(client, encode(dark), "photo_enhance", options={"scale": 2, "restore": "none"})
    assert _stages(info) == ["low_light", "span_x2"], info["route"]
    assert info["output"]["width"] == 480 and info["output"]["height"] == 400
    assert info["quality"]["compared_with"] == "the input, bicubic x2"
    small = np.asarray(decode(data))[::2, ::2]
    assert rgb_psnr(small, clean) > rgb_psnr(dark, clean) + 3.0


def test_a_clean_photo_is_left_alone_and_a_preset_applies(client: grpcclient.InferenceServerClient) -> None:
    clean = encode(astronaut()[:160, :160])
    data, info = enhance(client, clean, "photo_enhance")
    assert info["route"] == [] and np.array_equal(decode(data), decode(clean))
    _, info = enhance(client, clean, "photo_enhance", options={"preset": "camera_720p"})
    assert _stages(info) == ["espcn_x2"] and info["output"]["format"] == "JPEG"


def test_a_scale_past_the_output_limit_is_refused(client: grpcclient.InferenceServerClient) -> None:
    big = np.zeros((2100, 2100, 3), dtype=np.uint8)  # 4.4 MP: x4 would be 70.6 MP, over 64
    with pytest.raises(InferenceServerException, match=r"\[image_too_large\] At scale 4 the result would be 8400x8400"):
        enhance(client, encode(big), "photo_enhance", options={"scale": 4})


def test_an_old_grainy_dark_print_is_restored_lifted_and_doubled(client: grpcclient.InferenceServerClient) -> None:
    clean = sporco_photo("sail")[:192, :256]
    old = degrade.gaussian_noise(LOW_LIGHT["ev-3.5"](clean, 1), 8.0, np.random.default_rng(9))  # grain on a dark print
    data, info = enhance(client, encode(old), "old_photo")  # no OPTIONS: x2 is old_photo's default
    # Grain is not damage: the damage network looks, marks a few pixels at most (6 of 49,152 here), and the chain
    # goes on to the denoiser.
    assert info["analysis"]["damage"]["coverage"] < 0.001, info["analysis"]["damage"]
    repair = ["damage", "gated_inpainter"] if info["analysis"]["damage"]["filled"] else ["damage"]
    assert _stages(info) == [*repair, "ffdnet", "low_light", "span_x2"], info["route"]
    assert info["output"]["width"] == 512 and info["output"]["height"] == 384
    small = np.asarray(decode(data))[::2, ::2]
    assert rgb_psnr(small, clean) > rgb_psnr(old, clean) + 5.0
    # photo_enhance runs the same router at scale 1 unless asked: the defaults are old_photo's own.
    _, enhanced = enhance(client, encode(old), "photo_enhance")
    assert _stages(enhanced) == ["ffdnet", "low_light"], enhanced["route"]
