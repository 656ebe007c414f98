"""The camera pipelines over real gRPC: raw uint8 frames in and out, no decode or encode on the way."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from lumaflow.build.eval import bicubic_up, downscale, rgb_psnr, y_psnr
from lumaflow.build.restoration_evals import exposed
from lumaflow.ensemble.stages import PHOTO_NICE
from lumaflow.loadtest.stats import model_counts
from lumaflow.server.procfs import cmdline, stubs_with_prefix
from tests.fixtures import astronaut, model_counts_since

pytestmark = pytest.mark.served


def _frames(client: grpcclient.InferenceServerClient, model: str, frames: np.ndarray) -> np.ndarray:
    """Each frame as its own request (the contract: one frame per request, batched by Triton)."""
    out = []
    for frame in frames:
        pixels = grpcclient.InferInput("FRAME", [1, *frame.shape], "UINT8")
        pixels.set_data_from_numpy(np.ascontiguousarray(frame[None]))
        out.append(client.infer(model, [pixels], client_timeout=60).as_numpy("ENHANCED_FRAME")[0])
    return np.stack(out)


def _frame_pair() -> tuple[np.ndarray, np.ndarray]:
    """A 480x640 crop of a real photo and its 240x320 camera frame (bicubic /2)."""
    original = np.ascontiguousarray(astronaut()[16:496, :])[:, :512]
    return original, downscale(original, 2)


@pytest.mark.parametrize("model", ["camera_x2", "camera_x2_int8"])
def test_camera_x2_upscales_raw_frames_better_than_bicubic(
    client: grpcclient.InferenceServerClient, model: str
) -> None:
    original, frame = _frame_pair()
    out = _frames(client, model, frame[None])
    assert out.dtype == np.uint8 and out.shape == (1, *original.shape)
    ours, bicubic = y_psnr(out[0], original, 2), y_psnr(bicubic_up(frame, 2), original, 2)
    expected = {"camera_x2": 2.47, "camera_x2_int8": 2.44}[model]  # measured served, 2026-12-04
    assert ours - bicubic == pytest.approx(expected, abs=0.3), f"{model}: {ours:.2f} dB vs bicubic {bicubic:.2f} dB"


def test_int8_camera_stage_stays_close_to_fp32(client: grpcclient.InferenceServerClient) -> None:
    """Catches: the bicubic skip quantised with the rest (about 1 dB lost), or the IR built from another graph."""
    _, frame = _frame_pair()
    fp32 = _frames(client, "camera_x2", frame[None])[0]
    int8 = _frames(client, "camera_x2_int8", frame[None])[0]
    assert rgb_psnr(int8, fp32) == pytest.approx(51.3, abs=0.3)  # measured served, 2026-12-04


def test_camera_x1_corrects_a_dark_frame_and_keeps_its_size(client: grpcclient.InferenceServerClient) -> None:
    original, _ = _frame_pair()
    dark = exposed(original, 0, -2.0, 0.006)
    out = _frames(client, "camera_x1", dark[None])[0]
    assert out.shape == dark.shape
    assert rgb_psnr(out, original) - rgb_psnr(dark, original) == pytest.approx(8.07, abs=0.3)  # measured offline


def test_camera_x1_leaves_a_well_exposed_frame_nearly_alone(client: grpcclient.InferenceServerClient) -> None:
    original, _ = _frame_pair()
    out = _frames(client, "camera_x1", original[None])[0]
    assert rgb_psnr(out, original) == pytest.approx(37.11, abs=0.3)  # measured offline, 2026-12-04


def test_frames_of_concurrent_streams_batch_and_match_alone(client: grpcclient.InferenceServerClient, server) -> None:
    _, frame = _frame_pair()
    frames = [np.ascontiguousarray(np.roll(frame, shift, axis=1)) for shift in range(0, 64, 8)]
    # Counted from before the lone frame too: a reading right after a response may or may not include it.
    before = model_counts(client, "camera_sr_x2")
    alone = _frames(client, "camera_x2", np.stack(frames[:1]))[0]

    def stream(index: int) -> np.ndarray:
        with grpcclient.InferenceServerClient(server.endpoints.grpc_url) as own:
            return _frames(own, "camera_x2", np.stack([frames[index]] * 4))

    with ThreadPoolExecutor(len(frames)) as pool:
        results = list(pool.map(stream, range(len(frames))))
    expected = 1 + 4 * len(frames)
    inferences, executions = model_counts_since(client, "camera_sr_x2", before, expected)
    assert inferences == expected and executions < inferences
    # Batched or alone, the same frame gets the same answer (to rounding: ORT blocks its GEMMs by batch size).
    assert int(np.abs(results[0][0].astype(np.int16) - alone.astype(np.int16)).max()) <= 1


def test_a_frame_of_the_wrong_dtype_is_refused(client: grpcclient.InferenceServerClient) -> None:
    frame = grpcclient.InferInput("FRAME", [1, 24, 32, 3], "FP32")
    frame.set_data_from_numpy(np.zeros((1, 24, 32, 3), dtype=np.float32))
    with pytest.raises(InferenceServerException) as caught:
        client.infer("camera_x2", [frame], client_timeout=30)
    assert "UINT8" in caught.value.message() or "uint8" in caught.value.message()


def _thread_niceness(pid: int) -> set[int]:
    """The niceness of every thread of ``pid`` (field 19 of /proc/PID/task/TID/stat)."""
    values = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        stat = (task / "stat").read_text()
        values.add(int(stat[stat.rindex(")") + 2 :].split()[16]))
    return values


def test_photo_stubs_yield_the_cores_to_camera_stubs(server) -> None:
    """Catches: the ``cpu_nice`` parameter rendered but not applied, or applied to the stub's first thread only
    (the engine's threads would then compete with camera frames at full priority)."""
    niceness: dict[str, set[int]] = {}
    for pid in stubs_with_prefix(server.shm_prefix):
        argv = cmdline(pid)
        if argv is not None and len(argv) > 1:
            model = Path(argv[1].decode()).parent.parent.name
            niceness.setdefault(model, set()).update(_thread_niceness(pid))
    assert niceness["camera_sr_x2"] == {0} and niceness["camera_sr_x2_int8"] == {0}
    for model in ("espcn_x2", "espcn_x2_tiles", "upscale_x2_decode", "encode"):
        assert niceness[model] == {PHOTO_NICE}, model
