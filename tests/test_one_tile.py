"""Which requests decode finishes itself (the one-tile path), and what encode does with what it finished."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from lumaflow.build.offline import triton_json
from lumaflow.ensemble.options import options_schema
from lumaflow.ensemble.pipelines import DENOISE, UPSCALE_X2_FAST
from lumaflow.ensemble.render import decode_config
from lumaflow.params import DecodeParams
from lumaflow.runtime.decoding import Decoded, Decoder, decode_request
from lumaflow.runtime.encoding import encode_result
from lumaflow.runtime.meta import OneTile
from lumaflow.runtime.one_tile import takes_one_tile_path
from tests.fixtures import astronaut, encode

pytestmark = pytest.mark.unit


def _decoder() -> Decoder:
    params = DecodeParams.from_model_config(triton_json(decode_config(UPSCALE_X2_FAST)))
    pipeline = UPSCALE_X2_FAST
    return Decoder.create(params, options_schema(pipeline.name, pipeline.options, pipeline.presets), ())


def _decoded(height: int, width: int, **options: Any) -> Decoded:
    photo = encode(np.tile(astronaut(), (2, 1, 1))[:height, :width])
    return decode_request(_decoder(), photo, json.dumps(options).encode(), None, lambda crops: crops)


@pytest.mark.parametrize(
    ("size", "options", "finished"),
    [
        ((200, 250), {"quality_check": False}, True),
        ((200, 250), {"quality_check": False, "format": "jpeg", "color_profile": "source"}, True),
        ((200, 250), {}, False),  # the quality check scores the result: it must travel as pixels
        ((200, 250), {"quality_check": False, "strength": 0.5}, False),  # blended with the input first
        ((600, 380), {"quality_check": False}, False),  # the tiler cuts it
    ],
)
def test_decode_finishes_a_photo_of_one_tile_written_as_the_network_returns_it(
    size: tuple[int, int], options: dict[str, Any], finished: bool
) -> None:
    decoder = _decoder()
    assert takes_one_tile_path(_decoded(*size, **options), decoder.params.bucket_max_side) is finished


def test_a_decode_that_would_ask_a_network_by_bls_may_not_finish_photos() -> None:
    params = DecodeParams.from_model_config(triton_json(decode_config(DENOISE)))
    assert params.one_tile is not None and params.analysis_in_decode is not None
    schema = options_schema(DENOISE.name, DENOISE.options, DENOISE.presets)
    Decoder.create(params, schema, ("NOISE_LEVEL",))  # it runs the analysis and the estimator itself
    for without in (replace(params, analysis_in_decode=None), replace(params, noise_map_in_decode=None)):
        with pytest.raises(ValueError, match="must run what its side inputs ask"):
            Decoder.create(without, schema, ("NOISE_LEVEL",))


def test_encode_returns_the_file_decode_wrote_and_says_so_in_info() -> None:
    decoded = _decoded(64, 64, quality_check=False)
    meta = replace(decoded.meta, one_tile=OneTile("png", {}, 12.0, 2.0), tiles={"espcn_x2": [1, 0]})
    card = {"stages": ["decode", "espcn_x2", "quality_check", "encode"], "models": {}, "networks": {}, "version": "x"}
    nothing = np.zeros((1, 0, 0, 3), np.uint8)
    encoded, info = encode_result(nothing, nothing[..., 0], meta, card, meta.handoff_ns, None, b"the file")
    assert encoded == b"the file"
    assert info["one_tile"] == {"network_ms": 12.0, "encode_ms": 2.0}
    assert info["output"] == {"width": 128, "height": 128, "format": "png"}
    assert info["timings_ms"]["espcn_x2"] == 12.0 and info["timings_ms"]["encode"] == 2.0
    with pytest.raises(RuntimeError, match="no ENCODED"):
        encode_result(nothing, nothing[..., 0], meta, card, meta.handoff_ns, None, None)
