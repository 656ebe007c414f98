"""``lumaflow serve``'s loop, and what keeps its tritonserver whole: reload dead stubs, restart Triton.

Triton 2.51 does not restart a python-backend stub that was killed (out of memory, a crash in a
native library), keeps reporting its model ready, and fails every later request to it as INTERNAL
("Stub process '<model>_0_0' is not healthy") -- measured. ``lumaflow serve`` therefore watches:

- every step (about twice a second): the stub PIDs it knows, and tritonserver's own PID;
- every ``deep_interval_s``: one tiny real request through each pipeline (``lumaflow.client.health``),
  which also catches a stub that is alive but broken.

A dead or failing model is loaded again through the model-repository protocol, which only this
supervisor can use (``TritonServer.admin_token``); if that does not bring it back, tritonserver
is restarted on the same ports, at most ``max_restarts`` times per ``RESTART_WINDOW_S``.

``serve`` is the loop around it: build what is missing, start, print the ready line, supervise, and on
SIGINT or SIGTERM drain the pipelines and stop.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import lumaflow
from lumaflow.build.errors import BuildError

from .distribution import ServeError
from .endpoints import check_ports_free
from .options import ServerOptions, from_args
from .probes import ProbeServer, ProbeState
from .process import TritonServer
from .procfs import pid_alive
from .triton_log import one_line

if TYPE_CHECKING:
    from lumaflow.web.serve import WebServer

LOOP_PROMISE_S = 30.0  # /livez: a turn of the serve loop without a step comes well within this
RESTART_WINDOW_S = 3600.0  # --max-restarts counts restarts over the last hour
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


PROBE_S = 60.0  # a probe request's deadline
PATIENT_PROBE_S = 600.0  # the second chance of a probe that only ran out of time


class Supervisor:
    """Checks and repairs one ``TritonServer``; ``step()`` is called from ``lumaflow serve``'s loop.

    How often it probes, how many restarts it allows and how long a restart may take are the server's own
    ``ServerOptions`` (``deep_check_interval_s``, ``max_restarts``, ``ready_timeout_s``); restarts are counted
    over ``RESTART_WINDOW_S``.
    """

    def __init__(
        self, server: TritonServer, *, say: Callable[[str], None] = print, probes: ProbeState | None = None
    ) -> None:
        self.server = server
        self.options = server.options
        self.say = say
        self.probes = probes
        self.repairs: list[Repair] = []
        self._restarts: deque[float] = deque()
        self._stubs = server.stub_models()
        self._next_deep = time.monotonic() + self.options.deep_check_interval_s

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
        interval = self.options.deep_check_interval_s
        if interval > 0 and time.monotonic() >= self._next_deep:
            self.deep_check()
            self._next_deep = time.monotonic() + interval

    def step_bound_s(self) -> float:
        """The longest one ``step`` may take without being hung: every probe patient, then two restarts."""
        pipelines = max(1, len(self.server.entry_points))
        return pipelines * (PROBE_S + PATIENT_PROBE_S) + 2 * self.options.ready_timeout_s

    def deep_check(self) -> None:
        if self.probes is not None:
            self.probes.promise(self.step_bound_s())
        failed = self._failing_pipelines()
        if self.probes is not None:  # readiness follows the first answer; a repair below may set it again
            self.probes.deep_checked(not failed, "; ".join(f"{name}: {error}" for name, error in failed.items()))
        if not failed:
            return
        # A probe past its deadline may only have queued behind real work (a 12 MP photo holds both cores for a minute):
        # asked again with a patient deadline, a busy server answers and a hung one does not. Restarting a busy one
        # would lose every request in flight.
        if all(message.startswith("DeadlineExceeded") for message in failed.values()):
            failed = self._failing_pipelines(list(failed), timeout=PATIENT_PROBE_S)
            if not failed:
                self.say("supervisor: busy (a probe passed its deadline, then answered); not restarting")
                if self.probes is not None:
                    self.probes.deep_checked(True)
                return
        named = sorted({model for message in failed.values() for model in broken_models(message)})
        if named:
            self.reload(named, "a probe request found its stub unhealthy")
            failed = self._failing_pipelines(list(failed))
        if failed:
            pipeline, message = next(iter(failed.items()))
            self.restart(f"pipeline {pipeline} fails a probe request ({message})")
        if self.probes is not None:  # repaired: ready again (a restart that failed has raised)
            self.probes.deep_checked(True)

    def _failing_pipelines(self, pipelines: list[str] | None = None, timeout: float = PROBE_S) -> dict[str, str]:
        from lumaflow.client import LumaflowClient, RetryPolicy
        from lumaflow.client.errors import LumaflowError
        from lumaflow.client.health import deep_check

        if self.server.tls is not None:
            return {}  # the local probe has no CA to check the certificate with: liveness probes do this
        url = self.server.endpoints.grpc_url
        once = RetryPolicy(attempts=1)
        try:
            with LumaflowClient(url, token=self.server.token, retry=once, timeout=timeout) as client:
                probes = deep_check(client, pipelines or (), timeout)
        except LumaflowError as error:
            return {"(listing)": str(error)}
        return {probe.pipeline: probe.error for probe in probes if not probe.ok}

    def reload(self, models: list[str], reason: str) -> None:
        if self.probes is not None:
            self.probes.promise(len(models) * self.options.ready_timeout_s + LOOP_PROMISE_S)
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
        while self._restarts and now - self._restarts[0] > RESTART_WINDOW_S:
            self._restarts.popleft()
        if len(self._restarts) >= self.options.max_restarts:
            raise ServeError(
                f"giving up: {reason}, and tritonserver was restarted {len(self._restarts)} times "
                f"in the last {RESTART_WINDOW_S:.0f} s (--max-restarts)"
            )
        self._restarts.append(now)
        self.say(f"supervisor: restarting tritonserver: {reason}")
        if self.probes is not None:
            self.probes.promise(self.options.ready_timeout_s + LOOP_PROMISE_S)
        self.server.restart(self.options.ready_timeout_s)
        self._stubs = self.server.stub_models()
        self._record(Repair("restart", "tritonserver", reason, time.monotonic() - now))

    def _record(self, repair: Repair) -> None:
        self.repairs.append(repair)
        self.say(f"supervisor: {repair.what} {repair.target} ({repair.reason}) took {repair.seconds:.1f} s")


def _say(line: str) -> None:
    print(line, flush=True)


def _fail(message: str) -> int:
    print(f"lumaflow serve: error: {message}", file=sys.stderr, flush=True)
    return 1


def serve_command(args: argparse.Namespace) -> int:
    """``lumaflow serve``: read its options once, then ``serve``."""
    try:
        options = from_args(args, warn=lambda line: print(f"lumaflow serve: warning: {line}", file=sys.stderr))
    except ServeError as error:
        return _fail(str(error))
    return serve(options)


class _Stopping:
    """The SIGINT/SIGTERM handler while serving: the loop drains and stops once ``requested``.

    Before the server is ready there is nothing to drain, so Triton is told at once (a second signal also
    means "now"). Before it is installed, Ctrl-C simply interrupts the build.
    """

    def __init__(self, server: TritonServer) -> None:
        self.server = server
        self.requested = False
        signal.signal(signal.SIGINT, self)
        signal.signal(signal.SIGTERM, self)

    def __call__(self, _signum: int, _frame: FrameType | None) -> None:
        if self.requested or not self.server.entry_points:
            self.server.send_stop()
        self.requested = True


def serve(options: ServerOptions, *, say: Callable[[str], None] = _say) -> int:
    """Serve until SIGINT or SIGTERM, supervised unless ``max_restarts`` < 0; the exit code of ``lumaflow serve``.

    ``say`` gets the lines for stdout (the ready line, repairs, the final line); failures go to stderr
    as one ``lumaflow serve: error:`` line, which names tritonserver's kept log when it ran.
    """
    server: TritonServer | None = None
    try:
        _prepare(options, say)
        server = TritonServer(options=options)
        probes = _start_probes(server)
        stopping = _Stopping(server)
        server.start()
        try:
            server.wait_until_ready()
        except ServeError:
            if stopping.requested:
                return _finish(server, say)
            raise
        _announce(server, say)
        page = _start_page(server, say)
        try:
            _watch(server, stopping, say, probes[0] if probes else None)
        finally:
            if page is not None:
                page.stop()
            if probes:
                probes[1].stop()
        return _finish(server, say)
    except (ServeError, BuildError) as error:
        message = str(error)
        if server is not None:
            server.stop()
            if server.process is not None:  # it ran: its log tells what happened
                kept = server.keep_log()
                message += "" if str(kept) in message else f" (log: {kept})"
            server.cleanup()
        return _fail(message)
    except KeyboardInterrupt:
        print("lumaflow serve: interrupted before the server started", file=sys.stderr, flush=True)
        return 130


def _prepare(options: ServerOptions, say: Callable[[str], None]) -> None:
    """Regenerate the source repository's stale configs, check the ports, then build missing graphs (minutes)."""
    from lumaflow.build.deploy import DEFAULT_REPOSITORY, ensure_artifacts, verify_export
    from lumaflow.ensemble.generate import stale_files, write_repository

    local = options.model_repository if isinstance(options.model_repository, Path) else None
    if local == DEFAULT_REPOSITORY and stale_files(DEFAULT_REPOSITORY):
        changed = write_repository(DEFAULT_REPOSITORY)
        say(f"regenerated {len(changed)} model repository files from the declarations")
    check_ports_free(options.endpoints)  # before any build: a taken port should not cost minutes
    # A remote repository, or a local one with an export manifest, was built by `lumaflow build --export`: it is
    # checked for completeness only (a container has no weights and no torch to rebuild from).
    if local is not None and not verify_export(local):
        ensure_artifacts(local)


def _announce(server: TritonServer, say: Callable[[str], None]) -> None:
    """The ready line, then one line for each model that failed to load (served anyway: ``allow_partial``)."""
    endpoints = server.endpoints
    pipelines = sorted(server.entry_points)
    say(
        f"Lumaflow {lumaflow.__version__} serving gRPC{' (TLS)' if server.tls else ''} on {endpoints.grpc_url} "
        f"(HTTP {endpoints.bind_host('HTTP')}:{endpoints.http_port}, metrics {endpoints.metrics_host}:"
        f"{endpoints.metrics_port}); {'token required; ' if server.token else ''}"
        f"pipelines: {', '.join(pipelines) or 'none'}"
    )
    for model in server.missing:
        say(f"lumaflow serve: not serving {model.name}: {one_line(model.reason)}")


def _start_page(server: TritonServer, say: Callable[[str], None]) -> WebServer | None:
    """The web page beside the server (``--web-port``), talking to it over gRPC like any client; its address said."""
    options = server.options
    if not options.web_port:
        return None
    from lumaflow.web.serve import WebError, WebServer, web_settings

    if server.tls is not None:
        raise ServeError("--web-port beside a TLS server is not supported: the page speaks plain gRPC to it")
    host = options.endpoints.host
    try:
        settings = web_settings([server.endpoints.grpc_url], host, None, options.web_token_file)
        page = WebServer(replace(settings, token=server.token), host, options.web_port)
        page.start()
    except (WebError, RuntimeError, OSError, ImportError) as error:  # a taken port, no Starlette, no page files
        raise ServeError(f"web page: {error}") from None
    say(f"Lumaflow web page: {page.url}")
    return page


def _start_probes(server: TritonServer) -> tuple[ProbeState, ProbeServer] | None:
    """``/livez`` and ``/readyz`` on ``--probe-port`` before tritonserver starts (a taken port fails at once)."""
    options = server.options
    if not options.probe_port:
        return None
    state = ProbeState(f"{options.endpoints.http_url}/v2/health/ready")
    state.promise(options.ready_timeout_s + LOOP_PROMISE_S)  # loading every model is the first turn
    try:
        probes = ProbeServer(state, options.endpoints.host, options.probe_port)
    except OSError as error:
        raise ServeError(
            f"probe port {options.probe_port} on {options.endpoints.host} is not available ({error.strerror}); "
            "choose another with --probe-port"
        ) from None
    probes.start()
    return state, probes


def _watch(
    server: TritonServer, stopping: _Stopping, say: Callable[[str], None], probes: ProbeState | None = None
) -> None:
    """Until a stop is requested: supervise, or (``max_restarts`` < 0) only notice tritonserver exiting.

    Each turn promises ``probes`` (``/livez``) the next; the supervisor promises more before a long step."""
    options = server.options
    supervisor = None
    if options.max_restarts >= 0:
        supervisor = Supervisor(server, say=say, probes=probes)
    while not stopping.requested:
        if probes is not None:
            probes.promise(LOOP_PROMISE_S)
        code = server.poll(timeout_s=0.5)
        if stopping.requested:
            break
        if supervisor is not None:
            supervisor.step()
        elif code is not None:
            raise ServeError(f"tritonserver exited unexpectedly with code {code} (log: {server.keep_log()})")


def _finish(server: TritonServer, say: Callable[[str], None]) -> int:
    code = server.stop()
    server.cleanup()
    say(f"Lumaflow stopped (tritonserver exit code {code})")
    return 0 if code == 0 else 1
