"""The camera stages over real gRPC: raw uint8 frames in and out, no decode or encode on the way."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from lumaflow.build.eval import bicubic_up, downscale, rgb_psnr, y_psnr
from lumaflow.build.recipes import exposed
from tests.photos import astronaut


def _frames(client: grpcclient.InferenceServerClient, model: str, frames: np.ndarray, output: str) -> np.ndarray:
    pixels = grpcclient.InferInput("PIXELS", list(frames.shape), "UINT8")
    pixels.set_data_from_numpy(frames)
    return client.infer(model, [pixels], client_timeout=60).as_numpy(output)


def _frame_pair() -> tuple[np.ndarray, np.ndarray]:
    """A 480x640 crop of a real photo and its 240x320 camera frame (bicubic /2)."""
    original = np.ascontiguousarray(astronaut()[16:496, :])[:, :512]
    return original, downscale(original, 2)


@pytest.mark.parametrize("model", ["camera_x2", "camera_x2_int8"])
def test_camera_x2_upscales_raw_frames_better_than_bicubic(
    client: grpcclient.InferenceServerClient, model: str
) -> None:
    original, frame = _frame_pair()
    out = _frames(client, model, frame[None], "UPSCALED")
    assert out.dtype == np.uint8 and out.shape == (1, *original.shape)
    ours, bicubic = y_psnr(out[0], original, 2), y_psnr(bicubic_up(frame, 2), original, 2)
    assert ours > bicubic + 1.0, f"{model}: {ours:.2f} dB vs bicubic {bicubic:.2f} dB"


def test_int8_camera_stage_stays_close_to_fp32(client: grpcclient.InferenceServerClient) -> None:
    _, frame = _frame_pair()
    fp32 = _frames(client, "camera_x2", frame[None], "UPSCALED")[0]
    int8 = _frames(client, "camera_x2_int8", frame[None], "UPSCALED")[0]
    assert rgb_psnr(int8, fp32) > 38.0


def test_camera_x1_corrects_a_dark_frame_and_keeps_its_size(client: grpcclient.InferenceServerClient) -> None:
    original, _ = _frame_pair()
    dark = exposed(original, 0, -2.0, 0.006)
    batch = np.stack([dark, dark[:, ::-1]])  # two frames in one request
    out = _frames(client, "camera_x1", np.ascontiguousarray(batch), "RESTORED")
    assert out.shape == batch.shape
    assert rgb_psnr(out[0], original) > rgb_psnr(dark, original) + 3.0
    alone = _frames(client, "camera_x1", np.ascontiguousarray(batch[1:]), "RESTORED")[0]
    # Batched or alone, the same frame gets the same answer (to rounding: ORT blocks its GEMMs by batch size).
    assert int(np.abs(out[1].astype(np.int16) - alone.astype(np.int16)).max()) <= 1


def test_a_frame_of_the_wrong_dtype_is_refused(client: grpcclient.InferenceServerClient) -> None:
    frame = grpcclient.InferInput("PIXELS", [1, 24, 32, 3], "FP32")
    frame.set_data_from_numpy(np.zeros((1, 24, 32, 3), dtype=np.float32))
    with pytest.raises(InferenceServerException) as caught:
        client.infer("camera_x2", [frame], client_timeout=30)
    assert "UINT8" in caught.value.message() or "uint8" in caught.value.message()
