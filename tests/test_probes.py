"""``lumaflow serve --probe-port``: /livez follows the serve loop's promises, /readyz Triton and the last deep check."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lumaflow.server.probes import ProbeServer, ProbeState

pytestmark = pytest.mark.build  # no tritonserver, but loopback HTTP (the unit tier has no network)


class FakeTriton:
    """Triton's ``/v2/health/ready`` answering 200 or 503 as told."""

    def __init__(self) -> None:
        self.ready = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if fake.ready and self.path == "/v2/health/ready" else 503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v2/health/ready"


@pytest.fixture
def probes() -> Iterator[tuple[FakeTriton, ProbeState, int]]:
    triton = FakeTriton()
    state = ProbeState(triton.url)
    server = ProbeServer(state, "127.0.0.1", 0)
    server.start()
    yield triton, state, server.port
    server.stop()
    triton.httpd.shutdown()


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read().decode().strip()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode().strip()


def test_livez_holds_while_the_loop_keeps_its_promise(probes: tuple[FakeTriton, ProbeState, int]) -> None:
    _, state, port = probes
    state.promise(30)
    assert get(port, "/livez") == (200, "serve loop alive")
    state.promise(-5)  # the loop promised a turn 5 s ago and has not come round
    status, text = get(port, "/livez")
    assert status == 503 and text.startswith("serve loop") and "past its promised turn" in text


def test_readyz_needs_triton_ready_and_the_last_deep_check_passed(probes: tuple[FakeTriton, ProbeState, int]) -> None:
    triton, state, port = probes
    assert get(port, "/readyz") == (503, "tritonserver not ready")
    triton.ready = True
    assert get(port, "/readyz") == (200, "ready (no deep check yet)")
    state.deep_checked(False, "upscale_x2: DeadlineExceeded")
    assert get(port, "/readyz") == (503, "last deep check failed: upscale_x2: DeadlineExceeded")
    state.deep_checked(True)
    assert get(port, "/readyz") == (200, "ready")
    triton.ready = False  # a restart: Triton loads again
    assert get(port, "/readyz")[0] == 503
    assert get(port, "/metrics")[0] == 404
