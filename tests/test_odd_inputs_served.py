"""The odd files users send, through a served pipeline over gRPC: what comes back is still right."""

from __future__ import annotations

import io

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from PIL import Image
from skimage import data as skdata

from lumaflow.build.eval import rgb_psnr
from tests import odd_files
from tests.fixtures import astronaut, encode, enhance

pytestmark = pytest.mark.served

PIPELINE = "upscale_x2_fast"  # the cheapest x2: these tests are about the files, not the network


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return astronaut()[:96, :128]


@pytest.fixture(scope="module")
def reference(photo: np.ndarray, client: grpcclient.InferenceServerClient) -> np.ndarray:
    """The pipeline's output for the plain 8-bit sRGB PNG of the same photo."""
    enhanced, _ = enhance(client, encode(photo), PIPELINE)
    return np.asarray(opened(enhanced).convert("RGB"))


@pytest.fixture(scope="module")
def client(server) -> grpcclient.InferenceServerClient:  # module-scoped: the reference is reused
    with grpcclient.InferenceServerClient(server.endpoints.grpc_url) as connected:
        yield connected


def test_16_bit_png(client: grpcclient.InferenceServerClient, photo: np.ndarray, reference: np.ndarray) -> None:
    enhanced, info = enhance(client, odd_files.png16_rgb(photo), PIPELINE)
    assert np.array_equal(np.asarray(opened(enhanced)), reference)
    assert info["input"]["mode"] == "RGB" and info["output"]["width"] == 256


def test_16_bit_grey_png_comes_back_grey_not_clipped(client: grpcclient.InferenceServerClient, photo) -> None:
    data, expected = odd_files.png16_grey(photo)
    enhanced, info = enhance(client, data, PIPELINE)
    out = opened(enhanced)
    assert out.mode == "L" and out.size == (256, 192) and info["input"]["mode"].startswith("I")
    assert abs(float(np.asarray(out).mean()) - float(expected.mean())) < 3


def test_alpha_png_keeps_its_transparency(client: grpcclient.InferenceServerClient, photo, reference) -> None:
    data, _ = odd_files.alpha_png(photo)
    enhanced, info = enhance(client, data, PIPELINE)
    out = opened(enhanced)
    assert out.mode == "RGBA" and out.size == (256, 192)
    alpha = np.asarray(out.getchannel("A"))
    assert alpha[:, 0].max() <= 2 and alpha[:, -1].min() >= 253 and 100 < alpha[:, 128].mean() < 155
    assert np.array_equal(np.asarray(out)[..., :3], reference)
    assert info["input"]["alpha"] is True and info["output"]["alpha"] == "kept"


def test_grey_jpeg_comes_back_grey(client: grpcclient.InferenceServerClient, photo: np.ndarray) -> None:
    enhanced, info = enhance(client, odd_files.grey_jpeg(photo), PIPELINE)
    assert opened(enhanced).mode == "L" and info["input"]["mode"] == "L"


def test_cmyk_jpeg(client: grpcclient.InferenceServerClient, photo: np.ndarray, reference: np.ndarray) -> None:
    enhanced, info = enhance(client, odd_files.cmyk_jpeg(photo), PIPELINE)
    assert info["input"]["mode"] == "CMYK"
    assert rgb_psnr(np.asarray(opened(enhanced).convert("RGB")), reference) > 30


def test_p3_png_is_enhanced_in_srgb_and_returned_in_p3(client: grpcclient.InferenceServerClient) -> None:
    photo = np.asarray(skdata.coffee(), dtype=np.uint8)[100:196, 200:328]
    data, _ = odd_files.p3_png(photo)
    expected, _ = enhance(client, encode(photo), PIPELINE)
    enhanced, info = enhance(client, data, PIPELINE)
    assert info["input"]["icc"].startswith("Display P3") and info["output"]["color_profile"] == "sRGB"
    assert "icc_profile" not in opened(enhanced).info
    assert rgb_psnr(np.asarray(opened(enhanced)), np.asarray(opened(expected))) > 40
    returned, info = enhance(client, data, PIPELINE, options={"color_profile": "source"})
    assert opened(returned).info["icc_profile"] == odd_files.display_p3_icc()
    assert info["output"]["color_profile"].startswith("Display P3")


def test_heic(client: grpcclient.InferenceServerClient, photo: np.ndarray, reference: np.ndarray) -> None:
    enhanced, info = enhance(client, odd_files.heic(photo), PIPELINE)
    assert info["input"]["format"] == "HEIF"
    assert rgb_psnr(np.asarray(opened(enhanced)), reference) > 30


@pytest.mark.parametrize("keep_gps", [False, True])
def test_gps_is_removed_unless_asked(client: grpcclient.InferenceServerClient, photo, keep_gps: bool) -> None:
    enhanced, info = enhance(client, odd_files.gps_jpeg(photo), PIPELINE, options={"keep_gps": keep_gps})
    exif = odd_files.exif_of(enhanced)
    assert exif[0x010F] == "Lumaflow Test Camera"
    assert bool(exif.get_ifd(odd_files.GPS_IFD)) is keep_gps
    assert info["input"]["gps"] == ("kept" if keep_gps else "removed")
