"""Kubernetes' liveness and readiness, answered by ``lumaflow serve`` itself (``--probe-port``).

Liveness must not be the deep check: under load a real request through every pipeline waits behind real work,
and a liveness probe that timed out would restart the pods working hardest. ``/livez`` says only that the
serve loop (the supervisor) is alive: it answers 200 while the loop has promised its next turn and that
promise has not expired. A turn that may legitimately take long (a deep check that waits patiently, a
restart that loads every model) promises that long before it starts.

``/readyz`` says whether to send traffic: tritonserver answers ready on its own HTTP endpoint, and the
supervisor's last deep check passed (before the first one, Triton's readiness alone decides).
"""

from __future__ import annotations

import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ProbeState:
    """What the serve loop tells the probes: its next turn's deadline and the last deep check's outcome."""

    def __init__(self, triton_ready_url: str) -> None:
        self.triton_ready_url = triton_ready_url
        self._lock = threading.Lock()
        self._live_until = time.monotonic() + 60.0
        self._deep_ok: bool | None = None
        self._deep_detail = ""

    def promise(self, seconds: float) -> None:
        """The loop will come round again within ``seconds``."""
        with self._lock:
            self._live_until = time.monotonic() + seconds

    def deep_checked(self, ok: bool, detail: str = "") -> None:
        with self._lock:
            self._deep_ok, self._deep_detail = ok, detail

    def live(self) -> tuple[bool, str]:
        with self._lock:
            late = time.monotonic() - self._live_until
        return (late <= 0, "serve loop alive" if late <= 0 else f"serve loop {late:.0f} s past its promised turn")

    def ready(self) -> tuple[bool, str]:
        try:
            with urllib.request.urlopen(self.triton_ready_url, timeout=2) as answer:
                triton = answer.status == 200
        except OSError:
            triton = False
        if not triton:
            return False, "tritonserver not ready"
        with self._lock:
            deep_ok, detail = self._deep_ok, self._deep_detail
        if deep_ok is False:
            return False, f"last deep check failed: {detail}"
        return True, "ready" if deep_ok else "ready (no deep check yet)"


class ProbeServer:
    """``/livez`` and ``/readyz`` over plain HTTP on ``host:port``, in a daemon thread."""

    def __init__(self, state: ProbeState, host: str, port: int) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                answers = {"/livez": state.live, "/readyz": state.ready}
                if self.path not in answers:
                    self.send_error(404)
                    return
                ok, text = answers[self.path]()
                body = (text + "\n").encode()
                self.send_response(200 if ok else 503)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:  # the kubelet asks every few seconds: not worth a line
                return

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="lumaflow-probes", daemon=True)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
