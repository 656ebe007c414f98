"""Soak (slow, by hand): minutes of mixed good and bad traffic through `lumaflow serve`, tritonserver killed
half-way; every request sent is accounted for as a success or a typed failure, exactly.

    .venv/bin/pytest tests/test_soak.py -m slow -s      # LUMAFLOW_SOAK_S=180 by default
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from lumaflow.client import InvalidImage, InvalidOptions, LumaflowClient, LumaflowError, RetryPolicy
from tests.fixtures import FAST_PIPELINE, SERVE_TOKEN, Serve, astronaut, encode, sporco_photo

SOAK_S = float(os.environ.get("LUMAFLOW_SOAK_S", "180"))
PATIENT = RetryPolicy(attempts=80, backoff_s=0.2, max_backoff_s=1.0)


def _requests() -> list[tuple[str, bytes, dict[str, object], type[LumaflowError] | None]]:
    """(kind, file, options, the typed failure it must get, or None for success)."""
    good = [encode(astronaut()[:64, :80]), encode(sporco_photo("monarch")[100:164, 200:296], "JPEG")]
    rng = np.random.default_rng(7)
    return [
        ("good", good[0], {}, None),
        ("good-jpeg-out", good[1], {"format": "jpeg", "quality": 80}, None),
        ("random-bytes", rng.integers(0, 256, 2000, dtype=np.uint8).tobytes(), {}, InvalidImage),
        ("truncated", good[1][: len(good[1]) // 2], {}, InvalidImage),
        ("empty", b"", {}, InvalidImage),
        ("bad-option", good[0], {"format": "gif89"}, InvalidOptions),
    ]


@pytest.mark.slow
def test_soak_with_a_server_crash_accounts_for_every_request(model_repository: Path, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(SERVE_TOKEN)
    token_file.chmod(0o600)
    serve, url = Serve.small(model_repository, tmp_path, token_file, "--deep-check-interval=20")
    kinds = _requests()
    sent: Counter[str] = Counter()
    outcomes: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()
    stop = threading.Event()

    def sender(index: int) -> None:
        with LumaflowClient(url, token=SERVE_TOKEN, retry=PATIENT, timeout=300) as client:
            turn = index
            while not stop.is_set():
                kind, data, options, _ = kinds[turn % len(kinds)]
                turn += 1
                with lock:
                    sent[kind] += 1
                try:
                    client.enhance(data, FAST_PIPELINE, **options)
                    outcome = "ok"
                except LumaflowError as error:
                    outcome = type(error).__name__
                except Exception as error:  # an untyped failure is what this test looks for
                    outcome = f"untyped {type(error).__name__}"
                with lock:
                    outcomes[(kind, outcome)] += 1

    try:
        serve.wait_for("serving gRPC")
        threads = [threading.Thread(target=sender, args=(index,), daemon=True) for index in range(4)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(SOAK_S / 2)
        os.kill(serve.triton_pid(), signal.SIGKILL)
        serve.wait_for("restart tritonserver", timeout_s=240)
        time.sleep(max(0.0, started + SOAK_S - time.monotonic()))
        stop.set()
        for thread in threads:
            thread.join(timeout=300)
    finally:
        stop.set()
        if serve.process.poll() is None:
            serve.process.send_signal(signal.SIGINT)
            serve.process.wait(timeout=120)
    print(f"\nsoak {SOAK_S:.0f} s, tritonserver killed at {SOAK_S / 2:.0f} s:")
    for (kind, outcome), count in sorted(outcomes.items()):
        print(f"  {kind:<16} {outcome:<16} {count}")
    assert sum(sent.values()) == sum(outcomes.values())  # nothing unanswered
    expected = {kind: want for kind, _, _, want in kinds}
    for (kind, outcome), count in outcomes.items():
        want = "ok" if expected[kind] is None else expected[kind].__name__  # type: ignore[union-attr]
        assert outcome == want, (kind, outcome, count)
    assert serve.process.returncode == 0
