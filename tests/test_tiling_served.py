"""Large photos through the tilers over gRPC: equal to untiled, batched with others, stopped on time."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from skimage import data as skdata
from tritonclient.utils import InferenceServerException

from lumaflow.build.evaluate import run_offline
from lumaflow.ensemble.pipelines import PIPELINES
from lumaflow.loadtest.stats import model_counts
from lumaflow.runtime import tiling
from tests.fixtures import astronaut, decode, encode, enhance, image_input

pytestmark = pytest.mark.served


@pytest.mark.parametrize("pipeline", ["upscale_x2", "upscale_x2_fast", "denoise", "dejpeg"])
def test_served_tiles_equal_offline_and_untiled(client: grpcclient.InferenceServerClient, pipeline: str) -> None:
    """Served equals the offline run of the same request exactly, and the untiled run within one level."""
    photo = np.asarray(skdata.coffee(), dtype=np.uint8)[:380, :560]  # tiled: larger than one tile
    data = encode(photo)
    options = {"noise_level": 15} if pipeline == "denoise" else None
    inferences_before, _ = model_counts(client, PIPELINES[pipeline].steps[0])
    served, _ = enhance(client, data, pipeline, options=options)
    inferences, _ = model_counts(client, PIPELINES[pipeline].steps[0])
    stage = PIPELINES[pipeline].stages[0]
    assert stage.tiling is not None
    assert inferences - inferences_before == len(tiling.plan(380, 560, stage.tiling.tile, stage.tiling.context))
    pixels = decode(served).astype(np.int16)
    offline = run_offline(PIPELINES[pipeline], data, options or {})
    assert np.array_equal(pixels, offline)
    untiled = run_offline(PIPELINES[pipeline], data, options or {}, untiled=True)  # the whole photo in one window
    assert int(np.abs(pixels - untiled).max()) <= 1


# Small (one bucket-padded piece), medium and large (tiled) crops of real photos, for 8 clients at once.
MIXED_SIZES = ((120, 160), (400, 300), (700, 900), (96, 96), (300, 500), (640, 480), (200, 200), (512, 768))


def test_eight_clients_with_mixed_sizes_still_batch(client: grpcclient.InferenceServerClient, server) -> None:
    source = np.tile(astronaut(), (2, 2, 1))
    photos = [encode(source[:h, :w]) for h, w in MIXED_SIZES]
    stage = PIPELINES["upscale_x2_fast"].stages[0]
    assert stage.tiling is not None
    inferences_before, executions_before = model_counts(client, "espcn_x2")

    def send(data: bytes) -> tuple[int, int]:
        with grpcclient.InferenceServerClient(server.endpoints.grpc_url) as own:
            enhanced, _ = enhance(own, data, "upscale_x2_fast")
            height, width = decode(enhanced).shape[:2]
            return height, width

    with ThreadPoolExecutor(len(photos)) as pool:
        shapes = list(pool.map(send, photos))
    assert shapes == [(2 * h, 2 * w) for h, w in MIXED_SIZES]
    inferences, executions = model_counts(client, "espcn_x2")
    pieces = sum(
        len(tiling.plan(h, w, stage.tiling.tile, stage.tiling.context))
        if tiling.needs_tiling(h, w, stage.tiling.tile)
        else 1
        for h, w in MIXED_SIZES
    )
    tiles, batches = inferences - inferences_before, executions - executions_before
    assert tiles == pieces
    # espcn_x2 runs two instances without delay (``LEAN_PHOTO_NETWORK``): pieces batch when they queue while both
    # instances are busy (1.95 to over 2 measured); one piece per execution would be 1.0.
    assert tiles / batches >= 1.5, f"{tiles} pieces ran in {batches} batches"


def test_a_request_past_its_deadline_stops_sending_tiles(client: grpcclient.InferenceServerClient) -> None:
    """Triton's request timeout reaches the tiler: it answers UNAVAILABLE and sends no further tile."""
    photo = np.tile(astronaut(), (3, 3, 1))[:1200, :1500]  # 1.8 MP: 48 tiles of SPAN, many seconds
    stage = PIPELINES["upscale_x2"].stages[0]
    assert stage.tiling is not None
    total = len(tiling.plan(1200, 1500, stage.tiling.tile, stage.tiling.context))
    before, _ = model_counts(client, "span_x2")
    with pytest.raises(InferenceServerException) as caught:
        client.infer("upscale_x2", [image_input(encode(photo))], timeout=500_000, client_timeout=120)
    assert caught.value.status() == "StatusCode.UNAVAILABLE"
    assert "deadline passed before its remaining tiles were processed" in caught.value.message()
    # What was already queued or running may finish (a batch of SPAN tiles takes seconds on a loaded
    # machine); then the count must stop, far short of the photo's tiles.
    after, _ = model_counts(client, "span_x2")
    for _ in range(10):
        time.sleep(2.0)
        now, _ = model_counts(client, "span_x2")
        if now == after:
            break
        after = now
    else:
        pytest.fail(f"tiles were still being processed 20 s after the answer ({after - before} so far)")
    assert after - before <= 2 * stage.max_batch_size < total
