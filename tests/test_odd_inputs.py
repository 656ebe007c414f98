"""The odd files users send, decoded and re-encoded by the preprocessing backend's pure functions."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from lumaflow.build.eval import rgb_psnr
from lumaflow.runtime.errors import InvalidInput
from lumaflow.runtime.imaging import Limits, decode_image, encode_image
from tests import odd_files
from tests.fixtures import astronaut, encode

pytestmark = pytest.mark.unit

LIMITS = Limits(max_megapixels=4)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return astronaut()[:192, :256]  # not square, so a rotation shows


def test_16_bit_rgb_png_is_scaled_not_clipped(photo: np.ndarray) -> None:
    decoded = decode_image(odd_files.png16_rgb(photo), limits=LIMITS)
    assert np.array_equal(decoded.pixels, photo)


def test_16_bit_grey_png_is_scaled_not_clipped(photo: np.ndarray) -> None:
    data, expected = odd_files.png16_grey(photo)
    decoded = decode_image(data, limits=LIMITS)
    assert decoded.mode.startswith("I") and decoded.grey
    assert np.abs(decoded.pixels.astype(int) - expected).max() <= 1
    assert decoded.pixels.mean() > 60  # clipped, almost every pixel would read 255


def test_alpha_is_kept_apart_and_reattached(photo: np.ndarray) -> None:
    data, alpha = odd_files.alpha_png(photo)
    decoded = decode_image(data, limits=LIMITS)
    assert decoded.alpha is not None and np.array_equal(decoded.alpha, alpha)
    assert np.array_equal(decoded.pixels, photo)
    big = np.repeat(np.repeat(decoded.pixels, 2, axis=0), 2, axis=1)
    png, _, notes = encode_image(big, alpha=decoded.alpha)
    out = Image.open(io.BytesIO(png))
    assert out.mode == "RGBA" and out.size == (512, 384) and notes["alpha"] == "kept"
    upscaled_alpha = np.asarray(out.getchannel("A"))
    assert upscaled_alpha[:, 0].max() <= 2 and upscaled_alpha[:, -1].min() >= 253
    jpeg, _, notes = encode_image(big, fmt="jpeg", alpha=decoded.alpha)
    assert Image.open(io.BytesIO(jpeg)).mode == "RGB" and "flattened" in str(notes["alpha"])


def test_an_opaque_alpha_plane_is_dropped(photo: np.ndarray) -> None:
    opaque = encode(np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)]))
    assert decode_image(opaque, limits=LIMITS).alpha is None


def test_grey_jpeg_stays_grey(photo: np.ndarray) -> None:
    decoded = decode_image(odd_files.grey_jpeg(photo), limits=LIMITS)
    assert decoded.grey and decoded.pixels.shape == (192, 256, 3)
    assert np.array_equal(decoded.pixels[..., 0], decoded.pixels[..., 1])
    png, _, _ = encode_image(decoded.pixels, grey=True)
    assert Image.open(io.BytesIO(png)).mode == "L"


def test_cmyk_jpeg_decodes_to_the_photo(photo: np.ndarray) -> None:
    decoded = decode_image(odd_files.cmyk_jpeg(photo), limits=LIMITS)
    assert decoded.mode == "CMYK"
    assert rgb_psnr(decoded.pixels, photo) > 30


def test_p3_png_is_converted_to_srgb_and_can_go_back() -> None:
    photo = np.asarray(skdata.coffee(), dtype=np.uint8)[:192, :256]  # saturated reds, where P3 differs
    data, p3_numbers = odd_files.p3_png(photo)
    assert rgb_psnr(p3_numbers, photo) < 32  # read naively as sRGB, P3 numbers are visibly off
    decoded = decode_image(data, limits=LIMITS)
    assert decoded.profile is not None and decoded.profile.description.startswith("Display P3")
    assert rgb_psnr(decoded.pixels, photo) > 45
    back, _, notes = encode_image(decoded.pixels, profile=decoded.profile)
    out = Image.open(io.BytesIO(back))
    assert out.info["icc_profile"] == decoded.profile.icc and notes["color_profile"].startswith("Display P3")
    assert rgb_psnr(np.asarray(out.convert("RGB")), p3_numbers) > 40


def test_exif_orientation_6_is_applied_and_dropped(photo: np.ndarray) -> None:
    data, upright = odd_files.rotated_jpeg(photo)
    decoded = decode_image(data, limits=LIMITS)
    assert decoded.pixels.shape == upright.shape
    assert rgb_psnr(decoded.pixels, upright) > 35
    out, _, _ = encode_image(decoded.pixels, fmt="jpeg", exif=decoded.exif)
    assert odd_files.ORIENTATION not in odd_files.exif_of(out)


def test_gps_is_removed_unless_asked(photo: np.ndarray) -> None:
    data = odd_files.gps_jpeg(photo)
    for keep_gps in (False, True):
        decoded = decode_image(data, limits=LIMITS, keep_gps=keep_gps)
        out, _, _ = encode_image(decoded.pixels, fmt="jpeg", exif=decoded.exif)
        exif = odd_files.exif_of(out)
        assert exif[0x010F] == "Lumaflow Test Camera"
        assert bool(exif.get_ifd(odd_files.GPS_IFD)) is keep_gps
        assert decoded.describe()["gps"] == ("kept" if keep_gps else "removed")


def test_heic_decodes(photo: np.ndarray) -> None:
    decoded = decode_image(odd_files.heic(photo), limits=LIMITS)
    assert decoded.format == "HEIF" and rgb_psnr(decoded.pixels, photo) > 30


def test_avif_decodes(photo: np.ndarray) -> None:
    decoded = decode_image(encode(photo, "AVIF", quality=90), limits=LIMITS)
    assert decoded.format == "AVIF" and rgb_psnr(decoded.pixels, photo) > 30


def test_gif_uses_its_first_frame(photo: np.ndarray) -> None:
    frames = [Image.fromarray(photo), Image.fromarray(255 - photo)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    decoded = decode_image(buffer.getvalue(), limits=LIMITS)
    assert rgb_psnr(decoded.pixels, photo) > 20 and decoded.describe()["frames"] == "2 (the first is used)"


def test_file_size_and_output_size_are_checked_before_decoding(photo: np.ndarray) -> None:
    data = encode(photo)
    with pytest.raises(InvalidInput, match=r"^\[image_too_large\] The file is 0\.1 MB"):
        decode_image(data, limits=Limits(max_megapixels=4, max_megabytes=0.05))
    with pytest.raises(InvalidInput, match=r"^\[image_too_large\] The result would be 1024x768"):
        decode_image(data, limits=Limits(max_megapixels=4, max_output_megapixels=0.5, scale=4))


@pytest.mark.parametrize("fmt", ["GIF", "TIFF", "WEBP"])
def test_every_truncation_of_a_multi_frame_file_is_invalid_image(photo: np.ndarray, fmt: str) -> None:
    """A truncated animation, counted or loaded, must be the client's [invalid_image], never a server error.

    Before this was found, a GIF cut short raised IndexError or struct.error and a TIFF TypeError or
    SyntaxError from Pillow's frame counting, outside the decoder's error handling (INTERNAL).
    """
    frames = [Image.fromarray(np.roll(photo[:64, :64], 9 * shift, axis=1)) for shift in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format=fmt, save_all=True, append_images=frames[1:])
    data = buffer.getvalue()
    for end in range(1, len(data), max(1, len(data) // 300)):
        try:
            decode_image(data[:end], limits=LIMITS)
        except InvalidInput as error:
            assert error.reason == "invalid_image", (end, str(error))
