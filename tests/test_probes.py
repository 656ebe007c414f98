"""``lumaflow serve --probe-port``: /livez follows the serve loop's promises, /readyz Triton and the last deep check."""

from __future__ import annotations

import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from lumaflow.server.endpoints import free_endpoints
from lumaflow.server.probes import ProbeServer, ProbeState
from lumaflow.server.process import TritonServer
from tests.fixtures import SERVE_TOKEN, Serve


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read().decode().strip()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode().strip()


def until(port: int, path: str, status: int, timeout_s: float, text: str | None = None) -> str:
    """Poll ``path`` until it answers ``status`` (and ``text``, if given); its text."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer, said = get(port, path)
        if answer == status and text in (None, said):
            return said
        time.sleep(0.2)
    raise AssertionError(f"{path} never answered {status} {text or ''}; last {get(port, path)}")


@pytest.mark.unit
def test_livez_holds_while_the_loop_keeps_its_promise() -> None:
    state = ProbeState("http://127.0.0.1:9/v2/health/ready")  # never asked: liveness does not look at Triton
    state.promise(30)
    assert state.live() == (True, "serve loop alive")
    state.promise(-5)  # the loop promised a turn 5 s ago and has not come round
    ok, text = state.live()
    assert not ok and text.startswith("serve loop") and text.endswith("past its promised turn")


@pytest.fixture
def probes(server: TritonServer) -> Iterator[tuple[ProbeState, int]]:
    """The probes in front of the session's real tritonserver."""
    state = ProbeState(f"{server.endpoints.http_url}/v2/health/ready")
    probe_server = ProbeServer(state, "127.0.0.1", 0)
    probe_server.start()
    yield state, probe_server.port
    probe_server.stop()


@pytest.mark.served
def test_readyz_needs_triton_ready_and_the_last_deep_check_passed(probes: tuple[ProbeState, int]) -> None:
    state, port = probes
    assert get(port, "/readyz") == (200, "ready (no deep check yet)")
    state.deep_checked(False, "upscale_x2: DeadlineExceeded")
    assert get(port, "/readyz") == (503, "last deep check failed: upscale_x2: DeadlineExceeded")
    state.deep_checked(True)
    assert get(port, "/readyz") == (200, "ready")
    assert get(port, "/metrics")[0] == 404
    nothing = ProbeState(f"http://127.0.0.1:{free_endpoints().http_port}/v2/health/ready")  # no Triton there
    assert nothing.ready() == (False, "tritonserver not ready")


@pytest.mark.served
def test_serve_keeps_livez_through_a_restart_and_readyz_follows_triton(model_repository: Path, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(SERVE_TOKEN)
    token_file.chmod(0o600)
    port = free_endpoints().grpc_port
    flags = ("--deep-check-interval=1", f"--probe-port={port}")
    serve, _ = Serve.small(model_repository, tmp_path, token_file, *flags)
    try:
        serve.wait_for("serving gRPC")
        assert get(port, "/livez") == (200, "serve loop alive")
        until(port, "/readyz", 200, 30, "ready")  # a deep check has passed (one a second)
        os.kill(serve.triton_pid(), signal.SIGKILL)
        assert until(port, "/readyz", 503, 15) == "tritonserver not ready"
        assert get(port, "/livez") == (200, "serve loop alive")  # a dead tritonserver is the supervisor's to mend
        serve.wait_for("restart tritonserver", timeout_s=240)
        until(port, "/readyz", 200, 30)
    finally:
        if serve.process.poll() is None:
            serve.process.send_signal(signal.SIGINT)
            serve.process.wait(timeout=120)
