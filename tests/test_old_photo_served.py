"""old_photo over gRPC: damage found and filled, grey and sepia prints colourised, before the rest of the chain."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from lumaflow.build.damage_data import damaged_photo
from lumaflow.build.degrade import grey, sepia
from lumaflow.build.eval import rgb_psnr
from tests.fixtures import decode, encode, enhance, sporco_photo

pytestmark = pytest.mark.served


def _stages(info: dict) -> list[str]:
    return [entry["stage"] for entry in info["route"]]


def test_a_damaged_print_gets_closer_to_the_undamaged_photo_than_photo_enhance_gets_it(
    client: grpcclient.InferenceServerClient,
) -> None:
    clean = sporco_photo("sail")[:256, :384]
    damaged, truth = damaged_photo(clean, seed=3)
    assert truth.mean() > 0.005  # scratches, dust, creases and tears really are there
    repaired, info = enhance(client, encode(damaged), "old_photo", options={"scale": 1})
    enhanced, plain = enhance(client, encode(damaged), "photo_enhance")
    assert _stages(info)[:2] == ["damage", "gated_inpainter"], info["route"]
    coverage = info["analysis"]["damage"]["coverage"]
    assert info["analysis"]["damage"]["filled"] and 0.3 * truth.mean() < coverage < 4 * truth.mean(), coverage
    assert "damage" in info["stages"] and "gated_inpainter" in info["stages"]
    old_psnr, plain_psnr = rgb_psnr(decode(repaired), clean), rgb_psnr(decode(enhanced), clean)
    assert old_psnr > plain_psnr + 1.0, (old_psnr, plain_psnr, plain["route"])
    assert old_psnr > rgb_psnr(damaged, clean) + 1.0


def test_an_undamaged_photo_is_looked_at_and_left_unfilled(client: grpcclient.InferenceServerClient) -> None:
    clean = sporco_photo("kodim23")[:192, :256]
    data, info = enhance(client, encode(clean), "old_photo", options={"scale": 1})
    assert info["analysis"]["damage"]["coverage"] < 0.01, info["analysis"]["damage"]
    if not info["analysis"]["damage"]["filled"]:
        assert _stages(info) == ["damage"] and np.array_equal(decode(data), clean)


def test_a_grey_print_comes_back_in_colour_with_its_luma(client: grpcclient.InferenceServerClient) -> None:
    colour = sporco_photo("kodim23")[:192, :256]
    for print_ in (grey(colour), sepia(colour)):
        data, info = enhance(client, encode(print_), "old_photo", options={"scale": 1, "repair": "off"})
        assert _stages(info) == ["colorize"], info["route"]
        out = decode(data).astype(np.float32)
        assert out.shape == colour.shape
        chroma = np.abs(out - out.mean(axis=2, keepdims=True)).mean()
        assert chroma > 2.0, f"hardly any colour ({chroma:.2f})"
        luma = out @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        wanted = print_.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        assert np.abs(luma - wanted).mean() < 3.0


def test_a_one_channel_grey_file_is_written_back_in_colour(client: grpcclient.InferenceServerClient) -> None:
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.fromarray(grey(sporco_photo("kodim23")[:128, :160])[:, :, 0]).save(buffer, format="PNG")  # mode L
    data, info = enhance(client, buffer.getvalue(), "old_photo", options={"scale": 1, "repair": "off"})
    assert _stages(info) == ["colorize"] and Image.open(BytesIO(data)).mode == "RGB"
