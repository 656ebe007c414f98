"""The understanding networks as served: analysis in denoise, the quality check, lowlight, inpaint."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from lumaflow.build import degrade
from lumaflow.build.eval import rgb_psnr
from lumaflow.build.inpaint_data import hole_scores
from lumaflow.build.restoration_evals import LOW_LIGHT
from lumaflow.client.protocol import photo_inputs
from lumaflow.loadtest.stats import model_counts
from tests.fixtures import astronaut, decode, encode, enhance, sporco_photo

pytestmark = pytest.mark.served


def _inpaint(
    client: grpcclient.InferenceServerClient, image: bytes, mask: bytes | None, options: dict | None = None
) -> tuple[np.ndarray, dict]:
    result = client.infer("inpaint", photo_inputs(image, options or {}, mask), client_timeout=300)
    return decode(result.as_numpy("ENHANCED")[0, 0]), json.loads(result.as_numpy("INFO")[0, 0])


def test_denoise_takes_its_noise_level_from_the_analysis_network(client: grpcclient.InferenceServerClient) -> None:
    clean = astronaut()[:256, :256]
    noisy = degrade.gaussian_noise(clean, 25.0, np.random.default_rng(3))
    data, info = enhance(client, encode(noisy), "denoise")
    assert info["analysis"]["noise_level"]["source"] == "analysis network"
    assert abs(info["analysis"]["noise_level"]["sigma"] - 25.0) <= 4.0, info["analysis"]
    assert set(info["analysis"]["photo"]) >= {"noise_sigma", "jpeg_quality", "blur_sigma", "exposure_ev", "p_grey"}
    assert rgb_psnr(decode(data), clean) > rgb_psnr(noisy, clean) + 5.0
    # The quality check sees the improvement.
    assert info["quality"]["output"] > info["quality"]["input"] and info["quality"]["worse"] is False


def test_the_quality_check_flags_a_result_that_got_worse(client: grpcclient.InferenceServerClient) -> None:
    """FFDNet told σ 75 on a clean photo smooths its texture away: the check must say so."""
    _, info = enhance(client, encode(sporco_photo("monarch")[:256, :256]), "denoise", options={"noise_level": 75})
    assert info["quality"]["worse"] is True, info["quality"]
    assert info["quality"]["compared_with"] == "the input"


def test_the_quality_check_compares_an_upscale_with_bicubic_and_can_be_skipped(
    client: grpcclient.InferenceServerClient,
) -> None:
    photo = encode(astronaut()[100:196, 100:228])
    _, info = enhance(client, photo, "upscale_x2_fast")
    assert info["quality"]["compared_with"] == "the input, bicubic x2"
    assert info["quality"]["output"] >= info["quality"]["input"] - 3.0, info["quality"]
    _, skipped = enhance(client, photo, "upscale_x2_fast", options={"quality_check": False})
    assert "quality" not in skipped


def test_lowlight_restores_an_underexposed_photo(client: grpcclient.InferenceServerClient) -> None:
    clean = astronaut()[:256, :320]
    dark = LOW_LIGHT["ev-2.5"](clean, 0)
    data, info = enhance(client, encode(dark), "lowlight")
    assert rgb_psnr(decode(data), clean) > rgb_psnr(dark, clean) + 5.0
    assert info["stages"] == ["decode", "low_light", "quality_check", "encode"]


def test_inpaint_fills_the_hole_and_leaves_the_rest_bit_exact(client: grpcclient.InferenceServerClient) -> None:
    clean = astronaut()[200:328, 180:372]
    hole = np.zeros(clean.shape[:2], dtype=bool)
    hole[50:70, 60:110] = True
    holed = np.where(hole[..., None], 0, clean).astype(np.uint8)  # what the object was is not sent
    out, info = _inpaint(client, encode(holed), encode(hole.astype(np.uint8) * 255), {"mask_grow": 2})
    grown = np.zeros_like(hole)
    grown[48:72, 58:112] = True
    assert np.array_equal(out[~grown], holed[~grown])
    psnr, _ = hole_scores(out, clean, hole.astype(np.uint8))
    assert psnr > hole_scores(holed, clean, hole.astype(np.uint8))[0] + 3.0, psnr  # filled, not left black
    assert info["analysis"]["mask"] == {"fraction": round(float(grown.mean()), 5), "grown_px": 2}


def test_inpaint_refuses_a_mask_of_another_size_or_none(client: grpcclient.InferenceServerClient) -> None:
    image = encode(astronaut()[:64, :96])
    with pytest.raises(
        InferenceServerException, match=r"\[mask_mismatch\] The MASK image is 64x64 \(upright\); .* 96x64"
    ):
        _inpaint(client, image, encode(np.zeros((64, 64), dtype=np.uint8)))
    with pytest.raises(InferenceServerException, match="MASK"):
        _inpaint(client, image, None)


def test_inpaint_sends_only_the_tiles_that_touch_the_mask(client: grpcclient.InferenceServerClient) -> None:
    """A 1024x512 photo is 8 tiles (384 px, 64 of context, 256 px cores); a mask well inside one core
    reaches no other tile's window, so exactly one tile goes to the network."""
    photo = sporco_photo("kodim23")  # 768x512
    photo = np.concatenate((photo, photo[:, ::-1]), axis=1)[:, :1024]
    mask = np.zeros(photo.shape[:2], dtype=np.uint8)
    mask[100:120, 100:140] = 255
    before, _ = model_counts(client, "gated_inpainter")
    out, _ = _inpaint(client, encode(photo), encode(mask), {"mask_grow": 0})
    after, _ = model_counts(client, "gated_inpainter")
    assert after - before == 1
    keep = mask == 0
    assert np.array_equal(out[keep], photo[keep])
