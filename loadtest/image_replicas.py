"""Replicas as containers: three of the image on loopback ports, the client balancing over them, one killed mid-run.

The process test (tests/test_client_resilience.py) does this with three ``lumaflow serve`` processes; here each
replica is a container of the image serving one pipeline's exported repository, and the one that fails is
killed by ``podman kill`` (SIGKILL to the whole container: no drain). Every request must be answered (the
client sends what hit the dead replica again), and before the kill the three must share the load within
±10 %. Two cores cannot show compute scaling with three replicas; this shows the spread and the failover.
"""

from __future__ import annotations

import io
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from lumaflow.client import EnhanceResult, LumaflowClient, RetryPolicy
from lumaflow.loadtest.podman import Container

if TYPE_CHECKING:
    from lumaflow.loadtest.image_check import Report

PIPELINE = "upscale_x2_fast"
WARM_REQUESTS = 90  # 30 per replica: ±10 % is 27..33
REQUESTS = 200
KILL_AFTER = 50


def failover(report: Report, image: str, repository: Path, photo: np.ndarray) -> None:
    """Three replicas of ``repository``; the spread before the kill and every request answered across it."""
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, "PNG")
    payload = buffer.getvalue()
    with ExitStack() as stack:
        replicas = [
            stack.enter_context(Container.run(image, f"lumaflow-replica-{index}", repository=repository))
            for index in range(3)
        ]
        for replica in replicas:
            replica.wait_ready()
        urls = [replica.ports.grpc_url for replica in replicas]
        retry = RetryPolicy(attempts=6, backoff_s=0.05)
        with LumaflowClient(urls, retry=retry, timeout=120) as client:
            with ThreadPoolExecutor(3) as pool:
                warm = list(pool.map(lambda _: client.enhance(payload, PIPELINE), range(WARM_REQUESTS)))
            spread = Counter(result.endpoint for result in warm)
            share = WARM_REQUESTS / len(urls)
            even = set(spread) == set(urls) and all(abs(count - share) <= 0.1 * share for count in spread.values())
            report.check("three replicas share the load within ±10 %", even, str(sorted(spread.values())))
            results = _run_and_kill(client, payload, replicas[0])
    answered = [result for result in results if isinstance(result, EnhanceResult)]
    retried = sum(1 for result in answered if result.attempts > 1)
    report.figures["failover"] = {"requests": REQUESTS, "answered": len(answered), "sent_again": retried}
    report.check(
        "one replica killed mid-run (podman kill): 0 requests lost",
        len(answered) == REQUESTS
        and all(result.image.size == (2 * photo.shape[1], 2 * photo.shape[0]) for result in answered),
        f"{len(answered)}/{REQUESTS} answered, {retried} sent again after the kill",
    )


def _run_and_kill(client: LumaflowClient, payload: bytes, doomed: Container) -> list[EnhanceResult | Exception]:
    """``REQUESTS`` requests on four threads; ``doomed`` killed once ``KILL_AFTER`` have completed."""
    completed = [0]
    lock = threading.Lock()
    reached = threading.Event()

    def one(_: int) -> EnhanceResult | Exception:
        try:
            result: EnhanceResult | Exception = client.enhance(payload, PIPELINE)
        except Exception as error:  # counted as lost, reported with the others
            result = error
        with lock:
            completed[0] += 1
            if completed[0] == KILL_AFTER:
                reached.set()
        return result

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(one, index) for index in range(REQUESTS)]
        reached.wait(300)
        doomed.kill()
        return [future.result() for future in futures]
