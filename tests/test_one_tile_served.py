"""The one-tile path over gRPC: ``upscale_x2_fast`` and ``denoise`` finish a small photo in their decode, and the
client gets the very file the ordinary path (the tiler, the quality check, encode) writes for it; ``denoise``'s
decode then runs the analysis and the noise-map estimator itself, as their own models would answer."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from lumaflow.client import LumaflowClient
from lumaflow.ensemble.pipelines import PIPELINES
from lumaflow.loadtest.stats import model_counts
from lumaflow.runtime.crops import grid_crops, summarise_analysis
from lumaflow.runtime.side_inputs import rounded
from lumaflow.server.process import TritonServer
from tests.fixtures import astronaut, encode, enhance, model_counts_since
from tests.odd_files import alpha_png, gps_jpeg, p3_png

pytestmark = pytest.mark.served

PIPELINE = "upscale_x2_fast"
STAGE = "espcn_x2"
NO_CHECK = {"quality_check": False}


def _p3(pixels: np.ndarray) -> tuple[bytes, dict]:
    return p3_png(pixels)[0], {"color_profile": "source"}


SMALL_FILES: dict[str, Callable[[np.ndarray], tuple[bytes, dict]]] = {
    "jpeg": lambda pixels: (encode(pixels, "JPEG", quality=90), {}),
    "alpha": lambda pixels: (alpha_png(pixels)[0], {}),
    "exif and gps, as jpeg": lambda pixels: (gps_jpeg(pixels), {"format": "jpeg", "keep_gps": True}),
    "display p3 returned": _p3,
    "odd size, webp": lambda pixels: (encode(pixels[:131, :97]), {"format": "webp", "quality": 80}),
}


@pytest.mark.parametrize("kind", SMALL_FILES)
def test_a_small_photo_without_the_check_is_finished_in_decode_as_the_ordinary_path_writes_it(
    client: grpcclient.InferenceServerClient, kind: str
) -> None:
    data, options = SMALL_FILES[kind](astronaut()[100:300, 150:400])
    stage_before = model_counts(client, STAGE)
    fast, fast_info = enhance(client, data, PIPELINE, options={**options, **NO_CHECK})
    assert model_counts(client, STAGE) == stage_before  # the stage model never saw it
    ordinary, info = enhance(client, data, PIPELINE, options=options)  # the quality check keeps it ordinary
    assert model_counts_since(client, STAGE, stage_before, 1)[0] == 1
    assert fast == ordinary  # byte for byte: the same network on the same pixels, the same writer
    assert "one_tile" not in info and "quality" in info
    assert set(fast_info["one_tile"]) == {"network_ms", "encode_ms"}
    for key in ("pipeline", "input", "output", "stages", "models", "networks", "tiles"):
        assert fast_info[key] == info[key], key
    assert fast_info["tiles"] == {STAGE: {"sent": 1, "left_out": 0}}
    timings = fast_info["timings_ms"]
    assert timings[STAGE] >= fast_info["one_tile"]["network_ms"] > 0
    assert timings["encode"] >= fast_info["one_tile"]["encode_ms"] > 0


@pytest.mark.parametrize(
    ("what", "size", "options"),
    [
        ("larger than one tile", (600, 380), NO_CHECK),
        ("a strength to blend", (200, 250), {**NO_CHECK, "strength": 0.5}),
    ],
)
def test_what_one_tile_cannot_finish_takes_the_ordinary_path(
    client: grpcclient.InferenceServerClient, what: str, size: tuple[int, int], options: dict
) -> None:
    tiling = PIPELINES[PIPELINE].stages[0].tiling
    assert tiling is not None
    assert (max(size) > tiling.tile) == (what == "larger than one tile")
    height, width = size
    before = model_counts(client, STAGE)
    _, info = enhance(client, encode(np.tile(astronaut(), (2, 1, 1))[:height, :width]), PIPELINE, options=options)
    assert "one_tile" not in info
    assert info["tiles"][STAGE]["sent"] >= 1
    assert model_counts_since(client, STAGE, before, info["tiles"][STAGE]["sent"])[0] == info["tiles"][STAGE]["sent"]


def test_a_photo_finished_in_decode_posts_its_progress(server: TritonServer) -> None:
    request_id = uuid.uuid4().hex
    with LumaflowClient(server.endpoints.grpc_url, timeout=120) as lumaflow:
        result = lumaflow.enhance(encode(astronaut()[:200, :200]), PIPELINE, quality_check=False, progress=request_id)
        assert "one_tile" in result.info
        assert lumaflow.progress(request_id)["stages"] == {STAGE: [1, 1]}


@pytest.mark.parametrize(
    "options",
    [{"noise_level": 15}, {}, {"noise_map": "off"}],
    ids=["sigma told", "sigma estimated, noise map auto", "noise map off"],
)
def test_denoise_finishes_a_small_photo_in_decode_with_the_noise_level_its_models_would_read(
    client: grpcclient.InferenceServerClient, options: dict
) -> None:
    rng = np.random.default_rng(3)
    clean = astronaut()[120:300, 160:400].astype(np.float64)
    data = encode(np.clip(clean + rng.normal(0, 12, clean.shape), 0, 255).astype(np.uint8))
    models = ("ffdnet", "analysis", "noise_map")
    before = {model: model_counts(client, model) for model in models}
    fast, fast_info = enhance(client, data, "denoise", options={**options, **NO_CHECK})
    assert {model: model_counts(client, model) for model in models} == before  # decode ran them all
    ordinary, info = enhance(client, data, "denoise", options=options)
    assert model_counts_since(client, "ffdnet", before["ffdnet"], 1)[0] == 1  # the tiler's BLS call
    assert model_counts(client, "analysis") == before["analysis"]  # a decode holding photo_compute runs it itself
    assert fast == ordinary
    assert "one_tile" in fast_info and "one_tile" not in info
    for key in ("analysis", "tiles", "output"):
        assert fast_info[key] == info[key], key  # the same σ, the analysis and the estimator read alike
    if "noise_level" in options:
        assert fast_info["analysis"]["noise_level"]["source"] == "options"
    else:
        assert "photo" in fast_info["analysis"]  # the analysis network's reading, made in decode


def test_denoise_decode_reads_the_photo_as_the_analysis_model_does(client: grpcclient.InferenceServerClient) -> None:
    rng = np.random.default_rng(4)
    clean = astronaut()[40:240, 200:440].astype(np.float64)
    noisy = np.clip(clean + rng.normal(0, 20, clean.shape), 0, 255).astype(np.uint8)
    _, info = enhance(client, encode(noisy), "denoise", options={"noise_map": "off", **NO_CHECK})
    crops = grid_crops(noisy)
    pixels = grpcclient.InferInput("PIXELS", list(crops.shape), "UINT8")
    pixels.set_data_from_numpy(crops)
    rows = client.infer("analysis", [pixels]).as_numpy("ANALYSIS")
    assert info["analysis"]["photo"] == rounded(summarise_analysis(rows))
    assert info["analysis"]["noise_level"]["sigma"] == round(summarise_analysis(rows)["noise_sigma"], 2)
