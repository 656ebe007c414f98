"""Keep a running tritonserver whole: reload models whose python stub died, restart Triton when that fails.

Triton 2.51 does not restart a python-backend stub that was killed (out of memory, a crash in a
native library), keeps reporting its model ready, and fails every later request to it as INTERNAL
("Stub process '<model>_0_0' is not healthy") -- measured. ``lumaflow serve`` therefore watches:

- every step (about twice a second): the stub PIDs it knows, and tritonserver's own PID;
- every ``deep_interval_s``: one tiny real request through each pipeline (``lumaflow.client.health``),
  which also catches a stub that is alive but broken.

A dead or failing model is loaded again through the model-repository protocol, which only this
supervisor can use (``TritonServer.admin_token``); if that does not bring it back, tritonserver
is restarted on the same ports, at most ``max_restarts`` times per ``restart_window_s``.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .distribution import ServeError
from .triton import TritonServer, pid_alive

STUB_NAME = re.compile(r"Stub process '(?P<instance>[\w.-]+?)_\d+_\d+' is not healthy")


@dataclass(frozen=True)
class Repair:
    """One thing the supervisor did, for the log line and for tests."""

    what: str  # "reload" or "restart"
    target: str  # the model, or "tritonserver"
    reason: str
    seconds: float


def broken_models(message: str) -> list[str]:
    """The models a failed request names as having an unhealthy stub."""
    return sorted({match["instance"] for match in STUB_NAME.finditer(message)})


class Supervisor:
    """Checks and repairs one ``TritonServer``; ``step()`` is called from ``lumaflow serve``'s loop."""

    def __init__(
        self,
        server: TritonServer,
        *,
        deep_interval_s: float = 30.0,
        max_restarts: int = 3,
        restart_window_s: float = 3600.0,
        ready_timeout_s: float = 600.0,
        say: Callable[[str], None] = print,
    ) -> None:
        self.server = server
        self.deep_interval_s = deep_interval_s
        self.max_restarts = max_restarts
        self.restart_window_s = restart_window_s
        self.ready_timeout_s = ready_timeout_s
        self.say = say
        self.repairs: list[Repair] = []
        self._restarts: deque[float] = deque()
        self._stubs = server.stub_models()
        self._next_deep = time.monotonic() + deep_interval_s

    def step(self) -> None:
        """One round of checks; repairs what it finds; raises ``ServeError`` when it must give up."""
        process = self.server.process
        if process is None or process.poll() is not None:
            code = None if process is None else process.returncode
            self.restart(f"tritonserver exited with code {code}")
            return
        dead = sorted({model for pid, model in self._stubs.items() if not pid_alive(pid)})
        if dead:
            self.reload(dead, "its python stub died")
        if self.deep_interval_s > 0 and time.monotonic() >= self._next_deep:
            self.deep_check()
            self._next_deep = time.monotonic() + self.deep_interval_s

    def deep_check(self) -> None:
        failed = self._failing_pipelines()
        if not failed:
            return
        named = sorted({model for message in failed.values() for model in broken_models(message)})
        if named:
            self.reload(named, "a probe request found its stub unhealthy")
            failed = self._failing_pipelines(list(failed))
        if failed:
            pipeline, message = next(iter(failed.items()))
            self.restart(f"pipeline {pipeline} fails a probe request ({message})")

    def _failing_pipelines(self, pipelines: list[str] | None = None) -> dict[str, str]:
        from lumaflow.client import LumaflowClient, RetryPolicy
        from lumaflow.client.errors import LumaflowError
        from lumaflow.client.health import deep_check

        if self.server.tls is not None:
            return {}  # the local probe has no CA to check the certificate with: liveness probes do this
        url = self.server.endpoints.grpc_url
        once = RetryPolicy(attempts=1)
        try:
            with LumaflowClient(url, token=self.server.token, retry=once, timeout=60.0) as client:
                probes = deep_check(client, pipelines or ())
        except LumaflowError as error:
            return {"(listing)": str(error)}
        return {probe.pipeline: probe.error for probe in probes if not probe.ok}

    def reload(self, models: list[str], reason: str) -> None:
        for model in models:
            started = time.monotonic()
            try:
                self.server.reload(model)
            except ServeError as error:
                self.restart(f"{error} after {reason}")
                return
            self._record(Repair("reload", model, reason, time.monotonic() - started))
        self._stubs = self.server.stub_models()

    def restart(self, reason: str) -> None:
        now = time.monotonic()
        while self._restarts and now - self._restarts[0] > self.restart_window_s:
            self._restarts.popleft()
        if len(self._restarts) >= self.max_restarts:
            raise ServeError(
                f"giving up: {reason}, and tritonserver was restarted {len(self._restarts)} times "
                f"in the last {self.restart_window_s:.0f} s (--max-restarts)"
            )
        self._restarts.append(now)
        self.say(f"supervisor: restarting tritonserver: {reason}")
        self.server.restart(self.ready_timeout_s)
        self._stubs = self.server.stub_models()
        self._record(Repair("restart", "tritonserver", reason, time.monotonic() - now))

    def _record(self, repair: Repair) -> None:
        self.repairs.append(repair)
        self.say(f"supervisor: {repair.what} {repair.target} ({repair.reason}) took {repair.seconds:.1f} s")
