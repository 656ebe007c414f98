"""The bad-input corpus (tests/bad_inputs.py) sent to a real server, one by one and mixed into batches.

Each case must come back INVALID_ARGUMENT, open with its reason code, name the problem, and give
nothing of the server away. Bad requests that share a dynamic batch with good ones must not fail
them: each request of a batch is answered on its own.
"""

from __future__ import annotations

import functools
import io
import queue
import time

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from PIL import Image, ImageFile
from tritonclient.utils import InferenceServerException

from lumaflow import contract
from lumaflow.ensemble.pipelines import PIPELINES
from lumaflow.runtime.errors import InvalidInput
from lumaflow.runtime.imaging import Limits, decode_image
from lumaflow.runtime.mask import decode_mask
from lumaflow.server.process import TritonServer
from tests.bad_inputs import (
    CAMERA,
    DECODE,
    FAST,
    MASK,
    OPTIONS,
    PHOTO_SIZE,
    TRITON,
    BadInput,
    corpus,
    leaks,
    own_message,
)
from tests.fixtures import astronaut, encode

CORPUS = corpus()
# Pillow warns (naming its own file) about the corrupt EXIF of the broken TIFFs; expected here.
pytestmark = pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")
CATEGORIES = {
    "truncated or corrupt JPEG": "jpeg-truncated-half",
    "truncated or corrupt PNG": "png-corrupt-idat",
    "truncated or corrupt WebP": "webp-truncated",
    "truncated or corrupt TIFF": "tiff-corrupt-directory",
    "truncated or corrupt HEIC": "heic-truncated",
    "random bytes": "random-bytes",
    "empty": "empty",
    "zero-size dimensions": "png-0x0",
    "decompression bomb": "png-bomb-30000x30000",
    "absurd declared size": "jpeg-65535x65535",
    "huge but valid": "png-4100x4100-over-16mp",
    "wrong dtype on a raw frame": "frame-float32",
    "wrong shape on a raw frame": "frame-four-channels",
    "malformed OPTIONS": "options-not-json",
    "out-of-range OPTIONS": "options-quality-500",
    "MASK of the wrong size": "mask-smaller",
    "PDF": "pdf",
    "SVG": "svg",
    "HTML": "html",
}


def refusal(client: grpcclient.InferenceServerClient, case: BadInput) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as caught:
        client.infer(case.pipeline, case.inputs(), client_timeout=60)
    return caught.value


def check_refusal(case: BadInput, error: InferenceServerException) -> None:
    message = error.message()
    assert error.status() == "StatusCode.INVALID_ARGUMENT", f"{case.id}: {error.status()} {message}"
    assert not leaks(message), f"{case.id} leaks {leaks(message)}: {message}"
    own = own_message(message)
    if case.reason is None:  # refused by Triton's own checks, before any model ran: no reason code of ours
        assert not any(f"[{reason}]" in message for reason in contract.REASON_CODES), message
    else:
        assert own.startswith(f"[{case.reason}] "), f"{case.id}: {message}"
    missing = [word for word in case.words if word not in own]
    assert not missing, f"{case.id}: {missing} not in {message!r}"


@pytest.mark.unit
def test_the_corpus_covers_every_category_the_issue_names() -> None:
    ids = {case.id for case in CORPUS}
    assert len(CORPUS) >= 50
    assert not {category: id_ for category, id_ in CATEGORIES.items() if id_ not in ids}
    assert {case.layer for case in CORPUS} == {DECODE, OPTIONS, MASK, CAMERA, TRITON}
    assert all(case.words for case in CORPUS)


@pytest.mark.served
@pytest.mark.parametrize("case", CORPUS, ids=[case.id for case in CORPUS])
def test_each_bad_input_is_refused_with_its_reason_and_a_sentence(
    client: grpcclient.InferenceServerClient, case: BadInput
) -> None:
    check_refusal(case, refusal(client, case))


@pytest.mark.served
def test_the_server_still_serves_after_the_corpus(client: grpcclient.InferenceServerClient) -> None:
    """Every pipeline the corpus hit still answers a good request (run after the corpus, by file order)."""
    good = encode(astronaut()[:48, :64])
    for pipeline in sorted({case.pipeline for case in CORPUS if not case.pipeline.startswith("camera")}):
        inputs = [grpcclient.InferInput("IMAGE", [1, 1], "BYTES")]
        inputs[0].set_data_from_numpy(np.array([[good]], dtype=np.object_))
        if pipeline == "inpaint":
            inputs.append(grpcclient.InferInput("MASK", [1, 1], "BYTES"))
            inputs[1].set_data_from_numpy(np.array([[encode(np.zeros((48, 64), np.uint8))]], dtype=np.object_))
        result = client.infer(pipeline, inputs, client_timeout=120)
        assert result.as_numpy("ENHANCED").shape == (1, 1), pipeline
    for pipeline, scale in (("camera_x2", 2), ("camera_x1", 1)):
        frame = grpcclient.InferInput("FRAME", [1, 48, 64, 3], "UINT8")
        frame.set_data_from_numpy(np.ascontiguousarray(astronaut()[None, :48, :64]))
        assert client.infer(pipeline, [frame]).as_numpy("ENHANCED_FRAME").shape == (1, 48 * scale, 64 * scale, 3)


# --- bad requests in the same dynamic batch as good ones -----------------------------------------------


def batch_sizes(client: grpcclient.InferenceServerClient, model: str) -> dict[int, int]:
    """How many executions of each batch size ``model`` has run so far."""
    stats = client.get_inference_statistics(model, as_json=True)["model_stats"][0]
    return {
        int(row["batch_size"]): int(row.get("compute_infer", {}).get("count", 0))
        for row in stats.get("batch_stats", [])
    }


def good_inputs(photo: bytes) -> list[grpcclient.InferInput]:
    tensor = grpcclient.InferInput("IMAGE", [1, 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[photo]], dtype=np.object_))
    return [tensor]


Answer = tuple[str, int, grpcclient.InferResult | None, Exception | None]


def burst(client: grpcclient.InferenceServerClient, bad_cases: list[BadInput], photos: list[bytes]) -> list[Answer]:
    """Send bad and good requests interleaved, all at once; every answer as (kind, index, result, error)."""
    answers: queue.Queue[Answer] = queue.Queue()

    def done(kind: str, index: int, result: grpcclient.InferResult | None, error: Exception | None) -> None:
        answers.put((kind, index, result, error))

    for index, (case, photo) in enumerate(zip(bad_cases, photos, strict=True)):
        client.async_infer(FAST, case.inputs(), functools.partial(done, "bad", index), client_timeout=120)
        client.async_infer(FAST, good_inputs(photo), functools.partial(done, "good", index), client_timeout=120)
    return [answers.get(timeout=180) for _ in range(2 * len(photos))]


@pytest.mark.served
def test_bad_requests_batched_with_good_ones_leave_them_unaffected(
    client: grpcclient.InferenceServerClient, server: TritonServer
) -> None:
    """Bursts of interleaved good and bad requests until one decode batch provably held both.

    With 8 bad and 8 good requests in a burst, a decode batch of more than 8 must hold some of
    each; Triton's per-batch-size statistics say whether one formed. Each good photo has its own
    size, so a response handed to the wrong request would show.
    """
    bad_cases = [case for case in CORPUS if case.pipeline == FAST and case.layer in (DECODE, OPTIONS)]
    bad_cases = [case for case in bad_cases if case.id != "file-over-64mb"][::5][:8]
    goods = [(40 + 4 * index, 56 + 2 * index) for index in range(len(bad_cases))]  # (height, width) each
    photos = [encode(np.ascontiguousarray(astronaut()[:height, :width])) for height, width in goods]
    decode_model = f"{FAST}_decode"
    with grpcclient.InferenceServerClient(server.endpoints.grpc_url) as burst_client:
        for _attempt in range(5):
            before = batch_sizes(client, decode_model)
            answers = burst(burst_client, bad_cases, photos)
            for kind, index, result, error in sorted(answers, key=lambda answer: answer[0] != "good"):
                if kind == "good":
                    assert error is None and result is not None, f"good request {index} failed beside bad ones: {error}"
                    height, width = goods[index]
                    with Image.open(io.BytesIO(result.as_numpy("ENHANCED")[0, 0])) as enhanced:
                        assert enhanced.size == (2 * width, 2 * height), f"good request {index}"
                else:
                    assert isinstance(error, InferenceServerException), bad_cases[index].id
                    check_refusal(bad_cases[index], error)
            after = batch_sizes(client, decode_model)
            if any(after[size] > before.get(size, 0) for size in after if size > len(bad_cases)):
                return
            time.sleep(0.5)
    pytest.fail("no decode batch held both good and bad requests in 5 bursts: the test proved nothing")


# --- the same protections offline, where a server is not needed to see them -------------------------------


def limits_of(pipeline: str) -> Limits:
    """The limits ``<pipeline>_decode`` is configured with (as decode.py builds them from its config)."""
    declared = PIPELINES[pipeline]
    return Limits(
        max_megapixels=declared.max_input_megapixels,
        max_megabytes=declared.max_input_megabytes,
        max_output_megapixels=declared.max_output_megapixels,
        scale=declared.scale,
    )


@pytest.fixture()
def no_pixels_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make decoding any pixel fail the test: what must be refused from its header alone."""

    def refuse(self: Image.Image) -> None:
        raise AssertionError(f"{type(self).__name__} {self.size} was decoded; its header should have been refused")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    for factory, _accept in Image.OPEN.values():
        if isinstance(factory, type) and "load" in vars(factory):
            monkeypatch.setattr(factory, "load", refuse)


IMAGE_CASES = [case for case in CORPUS if case.image is not None and case.options is None]


@pytest.mark.unit
@pytest.mark.parametrize("case", IMAGE_CASES, ids=lambda case: case.id)
def test_decode_image_refuses_each_image_case_offline(case: BadInput) -> None:
    assert case.image is not None
    with pytest.raises(InvalidInput) as caught:
        decode_image(case.image, limits=limits_of(case.pipeline))
    assert caught.value.reason == case.reason
    assert all(word in str(caught.value) for word in case.words), str(caught.value)


@pytest.mark.unit
@pytest.mark.parametrize(
    "case", [case for case in IMAGE_CASES if case.reason == contract.IMAGE_TOO_LARGE], ids=lambda case: case.id
)
def test_bombs_and_huge_images_are_refused_before_any_pixel_is_decoded(case: BadInput, no_pixels_decoded: None) -> None:
    assert case.image is not None
    with pytest.raises(InvalidInput) as caught:
        decode_image(case.image, limits=limits_of(case.pipeline))
    assert caught.value.reason == contract.IMAGE_TOO_LARGE


@pytest.mark.unit
def test_a_mask_bomb_is_refused_before_its_pixels_are_decoded(no_pixels_decoded: None) -> None:
    """Reading the orientation or transposing decodes every pixel: 900 megapixels took 2.5 s and 1.8 GB here."""
    (bomb,) = [case.mask for case in CORPUS if case.id == "mask-bomb-30000x30000"]
    assert bomb is not None
    with pytest.raises(InvalidInput) as caught:
        decode_mask(bomb, 64, 48)
    assert caught.value.reason == contract.MASK_MISMATCH


@pytest.mark.unit
@pytest.mark.parametrize(
    "case", [case for case in CORPUS if case.mask is not None and case.reason], ids=lambda case: case.id
)
def test_decode_mask_refuses_each_mask_case_offline(case: BadInput) -> None:
    assert case.mask is not None
    width, height = PHOTO_SIZE
    with pytest.raises(InvalidInput) as caught:
        decode_mask(case.mask, width, height)
    assert caught.value.reason == case.reason
    assert all(word in str(caught.value) for word in case.words), str(caught.value)
