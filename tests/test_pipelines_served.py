"""What is served is what was measured: each pipeline over gRPC equals the same request functions run offline.

The offline run (``lumaflow.build.offline``) differs from the server only by its hops (direct calls instead of
BLS requests), so pixels and INFO (but its timings) must be identical.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from lumaflow.build.evaluate import offline_server
from lumaflow.client.protocol import photo_inputs
from lumaflow.ensemble.options import defaults
from lumaflow.ensemble.pipelines import PIPELINES, Pipeline
from tests.fixtures import astronaut, decode, encode

pytestmark = pytest.mark.served

NOISE_SIGMA = 25.0


def _photo_for(pipeline: Pipeline) -> tuple[bytes, bytes | None, bytes | None]:
    """A small real photo, degraded the way the pipeline expects, the OPTIONS and the MASK sent with it."""
    crop = astronaut()[180:220, 200:256]  # 56x40: small enough for the x8 cascade on two cores
    if pipeline.name == "denoise":
        noisy = crop.astype(np.float64) + np.random.default_rng(0).normal(0, NOISE_SIGMA, crop.shape)
        options = json.dumps({"noise_level": NOISE_SIGMA}).encode()
        return encode(np.clip(noisy, 0, 255).astype(np.uint8)), options, None
    if pipeline.name.startswith("dejpeg"):
        return encode(crop, "JPEG", quality=20), None, None
    if pipeline.name == "inpaint":
        mask = np.zeros(crop.shape[:2], dtype=np.uint8)
        mask[10:22, 20:34] = 255
        return encode(crop), None, encode(mask)
    if pipeline.name == "stylize":
        return encode(crop), json.dumps({"template": "teal_orange", "strength": 0.7}).encode(), None
    if pipeline.name == "lowlight":
        return encode((crop // 4).astype(np.uint8)), None, None
    return encode(crop), None, None


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_served_output_equals_the_offline_graphs(client: grpcclient.InferenceServerClient, name: str) -> None:
    pipeline = PIPELINES[name]
    data, options, mask = _photo_for(pipeline)
    sent = json.loads(options) if options is not None else {}
    result = client.infer(name, photo_inputs(data, sent, mask), client_timeout=300)
    served = decode(result.as_numpy("ENHANCED")[0, 0])
    info = json.loads(result.as_numpy("INFO")[0, 0])
    answered = offline_server().run(pipeline, data, sent, mask)  # the same request functions, in this process
    offline = answered.pixels
    # A routed pipeline's scale is an option (old_photo's default is 2); a fixed one's is its stages'.
    scale = int(defaults(pipeline.options).get("scale", pipeline.scale)) if pipeline.router else pipeline.scale
    assert served.shape == offline.shape == (40 * scale, 56 * scale, 3)
    assert int(np.abs(served.astype(np.int16) - offline.astype(np.int16)).max()) == 0  # one path, one hop apart
    routed = [step["stage"] for step in info.get("route", [])]  # photo_enhance: what its router chose
    assert info["stages"] == ["decode", *pipeline.steps, *routed, "quality_check", "encode"]
    assert {**info, "timings_ms": None} == {**answered.info, "timings_ms": None}
    if name == "denoise":
        assert info["analysis"] == {"noise_level": {"sigma": NOISE_SIGMA, "source": "options"}}
