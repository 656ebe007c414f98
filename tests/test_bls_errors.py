"""A model that another model calls by BLS and that refuses (a full queue) reaches the client as Overloaded.

The router of photo_enhance asks the analysis network first of all. Here the analysis stage is made to hold
requests: a routed photo's 25 crops wait in its batcher for more (a long delay), and a second routed photo's
25 crops, which do not fit that batch, fill its one-request queue (the router keeps many photos in flight).
The next photo is refused, and the router must answer the client with Triton's own status (UNAVAILABLE
"Exceeds maximum queue size", the client's ``Overloaded``), not a server error: the python backend hands a BLS
caller that refusal as INTERNAL (measured), and ``lumaflow.server.models.base.bls_status`` restores it.
decode's BLS call to the analysis network goes through the same helper (``call_model``).
"""

from __future__ import annotations

import re
import shutil
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as pb

from lumaflow.client import LumaflowClient, Overloaded, RetryPolicy
from lumaflow.server.process import running_server
from tests.fixtures import astronaut, encode

pytestmark = pytest.mark.served

MODELS = (
    "denoise",
    "denoise_decode",
    "ffdnet_tiles",
    "ffdnet",
    "photo_enhance",
    "photo_enhance_decode",
    "photo_route",
    "analysis",
    "noise_map",  # denoise's decode opens it (the one-tile path runs the estimator itself)
    "quality_check",
    "quality",
    "encode",
)
HOLD_S = 10.0  # how long the analysis batcher holds a batch it waits to fill
CROPS = 25  # one photo's crops: two do not fit the batch below
SPACING_S = 2.0  # between the second and third photo: both reach the network well within the first one's hold


def _repository(source: Path, destination: Path) -> Path:
    for name in MODELS:
        shutil.copytree(source / name, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
    path = destination / "analysis" / "config.pbtxt"
    config = text_format.Parse(path.read_text(), pb.ModelConfig())
    batching = config.dynamic_batching
    config.max_batch_size = 2 * CROPS - 1
    batching.max_queue_delay_microseconds = int(HOLD_S * 1e6)
    batching.preferred_batch_size[:] = [config.max_batch_size]  # never reached: a photo's crops wait the delay
    batching.default_queue_policy.max_queue_size = 1
    del config.model_warmup[:]  # a warmup would wait the delay too
    path.write_text(text_format.MessageToString(config))
    return destination


def test_a_full_queue_behind_the_router_is_overloaded(model_repository: Path, tmp_path: Path) -> None:
    photo = encode(astronaut()[:320, :320])  # 25 crops
    with running_server(_repository(model_repository, tmp_path / "repository")) as server:
        once = RetryPolicy(attempts=1)
        with LumaflowClient(server.endpoints.grpc_url, retry=once, timeout=60) as client:
            served: list[dict] = []
            refused: list[Overloaded] = []

            def send() -> None:
                try:
                    served.append(client.enhance(photo, "photo_enhance").info)
                except Overloaded as error:
                    refused.append(error)

            # The first photo is sent alone until the analysis network holds it. Sent together, all three could
            # reach its queue before the batcher took the first from it, and two were refused (CI, once). Then
            # the other two, a moment apart: one waits in the queue, the other is refused. Which is which depends
            # on the order they reach the network, which a loaded machine shuffles (CI once let the third
            # overtake the second), so the test asks only that one is refused and two are served.
            senders = [threading.Thread(target=send) for _ in range(3)]
            senders[0].start()
            _wait_for_pending(server.endpoints.metrics_url, "analysis", 1)
            for sender in senders[1:]:
                sender.start()
                time.sleep(SPACING_S)
            for sender in senders:
                sender.join(timeout=90)
    assert len(refused) == 1, [error.message for error in refused]
    assert "exceeds maximum queue size" in refused[0].message.lower()
    assert "analysis: " in refused[0].message  # the router names the model that refused
    assert len(served) == 2 and all("photo" in info["analysis"] for info in served)  # the held photos were served


def _wait_for_pending(metrics_url: str, model: str, count: int) -> None:
    """Until Triton's pending-request gauge shows ``count`` requests at ``model`` (queued or held)."""
    pattern = re.compile(rf'^nv_inference_pending_request_count{{model="{model}",version="1"}} (\S+)$', re.M)
    deadline = time.monotonic() + HOLD_S / 2
    pending = 0.0
    while time.monotonic() < deadline:
        with urllib.request.urlopen(metrics_url, timeout=5) as response:
            found = pattern.search(response.read().decode())
        pending = float(found.group(1)) if found else 0.0
        if pending >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{model} held {pending:g} requests, not {count}, within {HOLD_S / 2:g} s")
