"""Run the bundled tritonserver as a child process: start, readiness, drain, stop, restart, and why it failed.

Modelled on pytriton's ``TritonServer``: keyword-only construction (one ``ServerOptions``), the child
dies with its parent (``PR_SET_PDEATHSIG``), stop is SIGINT -> wait -> kill, output captured to a log
file. Unlike pytriton it reports a failed start as one line (the port, the model, or Triton's own error
line), keeps the log of a failed start where that line points, and reaps the python-backend stub
processes by PID so none outlive the server.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .argv import ADMIN_KEY, TOKEN_KEY, ServerTLS, server_argv, server_env
from .distribution import ServeError, TritonDistribution
from .endpoints import Endpoints, check_ports_free, free_endpoints
from .options import ServerOptions
from .procfs import child_pids, cmdline, pid_alive, stubs_with_prefix
from .triton_log import exit_reason, one_line, unread_reason

PR_SET_PDEATHSIG = 1
LOG_DIR_VARIABLE = "LUMAFLOW_LOG_DIR"  # where the logs of failed starts are kept (default ~/.cache/lumaflow/logs)
KEPT_LOGS = 50  # the newest kept logs stay; older ones are deleted when another is kept


@dataclass(frozen=True)
class ModelState:
    """One entry of Triton's repository index."""

    name: str
    version: str
    state: str
    reason: str


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class TritonServer:
    """One tritonserver process serving ``options.model_repository``."""

    def __init__(self, *, options: ServerOptions, distribution: TritonDistribution | None = None) -> None:
        self.options = options
        # Model loading and unloading are ours alone: a fresh secret per server, never shown.
        self.admin_token = secrets.token_urlsafe(24)
        self.missing: list[ModelState] = []  # models that failed to load (served anyway: allow_partial)
        self.distribution = distribution or TritonDistribution.locate()
        self.workdir = Path(tempfile.mkdtemp(prefix="lumaflow-triton-"))
        # Names this server's shared-memory regions, which its stubs get as an argument (``stubs_with_prefix``).
        self.shm_prefix = f"lumaflow{os.getpid()}_{self.workdir.name.rsplit('-', 1)[-1]}_"
        self.log_path = self.workdir / "tritonserver.log"
        self.kept_log: Path | None = None  # where ``keep_log`` copied the log of a failed start
        self.process: subprocess.Popen[bytes] | None = None
        self._stubs: set[int] = set()
        self.entry_points: list[str] = []  # the ensembles clients call; drained first on stop

    @property
    def model_repository(self) -> Path | str:
        return self.options.model_repository

    @property
    def endpoints(self) -> Endpoints:
        return self.options.endpoints

    @property
    def token(self) -> str | None:
        return self.options.token

    @property
    def tls(self) -> ServerTLS | None:
        return self.options.tls

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the server has not been started")
        return self.process.pid

    def argv(self) -> list[str]:
        return server_argv(
            self.options,
            binary=self.distribution.binary,
            backend_directory=self.distribution.backend_directory(self.workdir),
            shm_prefix=self.shm_prefix,
            admin_token=self.admin_token,
            cache_directory=self.distribution.caches,
        )

    def start(self) -> None:
        if isinstance(self.model_repository, Path) and not self.model_repository.is_dir():
            raise ServeError(f"model repository {self.model_repository} does not exist")
        check_ports_free(self.endpoints)
        with self.log_path.open("ab") as log:  # a restart appends: the log keeps why it was needed
            self.process = subprocess.Popen(
                self.argv(),
                env=server_env(dict(os.environ), self.distribution),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
                start_new_session=True,  # a terminal's Ctrl-C reaches us, and we stop Triton once
            )

    def poll(self, timeout_s: float = 0.0) -> int | None:
        """tritonserver's exit code once it has exited (waiting up to ``timeout_s``), else None."""
        if self.process is None:
            raise RuntimeError("the server has not been started")
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.process.wait(timeout=timeout_s) if timeout_s > 0 else self.process.poll()
        return None

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _get(self, path: str, method: str = "GET", timeout: float = 2.0) -> tuple[int, bytes]:
        request = urllib.request.Request(
            self.endpoints.http_url + path,
            method=method,
            data=b"" if method == "POST" else None,
            headers={ADMIN_KEY: self.admin_token, **({TOKEN_KEY: self.token} if self.token else {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def repository_index(self) -> list[ModelState]:
        status, body = self._get("/v2/repository/index", method="POST", timeout=10)
        if status != 200:
            raise ServeError(f"tritonserver's repository index answered HTTP {status}")
        return [
            ModelState(item["name"], str(item.get("version", "")), item.get("state", ""), item.get("reason", ""))
            for item in json.loads(body)
        ]

    def wait_until_ready(self, timeout_s: float | None = None) -> list[ModelState]:
        """Block until every model is READY (or failed, with ``allow_partial``); default ``options.ready_timeout_s``.

        A failed start raises ``ServeError`` naming what went wrong and the kept log (``keep_log``).
        """
        timeout_s = self.options.ready_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout_s
        self._wait_until_live(deadline, timeout_s)
        while True:
            # Startup models load before tritonserver goes live, so one still without a state was never read.
            models = [self._unread(model) if not model.state else model for model in self.repository_index()]
            failed = [model for model in models if model.state == "UNAVAILABLE"]
            if failed and not self.options.allow_partial:
                model = failed[0]
                reason = one_line(model.reason)
                raise ServeError(f"model '{model.name}' failed to load: {reason} (log: {self.keep_log()})")
            if models and all(model.state in ("READY", "UNAVAILABLE") for model in models):
                status, _ = self._get("/v2/health/ready")
                if status == 200:
                    self.missing = failed
                    self._stubs.update(child_pids(self.pid))
                    ready = [model for model in models if model.state == "READY"]
                    self.entry_points = [model.name for model in ready if self._is_ensemble(model.name)]
                    return ready
            if time.monotonic() > deadline:
                raise ServeError(f"models still loading after {timeout_s:.0f} s (log: {self.keep_log()})")
            time.sleep(0.2)

    def _wait_until_live(self, deadline: float, timeout_s: float) -> None:
        while True:
            if self.process is None or self.process.poll() is not None:
                raise ServeError(self._exit_reason())
            with contextlib.suppress(OSError):
                status, _ = self._get("/v2/health/live")
                if status == 200:
                    return
            if time.monotonic() > deadline:
                raise ServeError(f"tritonserver did not come up within {timeout_s:.0f} s (log: {self.keep_log()})")
            time.sleep(0.2)

    def _unread(self, model: ModelState) -> ModelState:
        """A model listed without a state, as a failed one: Triton could not read its directory (the log says why)."""
        return replace(model, state="UNAVAILABLE", reason=unread_reason(self.logs(), model.name))

    def _exit_reason(self) -> str:
        """Why tritonserver exited: its first error line, never a warning; the log is kept where it points."""
        code = self.process.returncode if self.process else None
        return exit_reason(code, self.logs(), self.keep_log())

    def _is_ensemble(self, model: str) -> bool:
        status, body = self._get(f"/v2/models/{model}/config", timeout=10)
        return status == 200 and json.loads(body).get("platform") == "ensemble"

    def drain(self, timeout_s: float) -> bool:
        """Unload the pipelines and wait until their in-flight requests have finished.

        Triton's own shutdown stops every model's scheduler at once, so an ensemble request
        already past decode fails at its next step ("Server is stopping") -- measured with
        tritonserver 2.51. Unloading an ensemble refuses new requests for it while the ones in
        flight finish through the still-loaded stages; only then is Triton asked to exit.
        """
        if self.process is None or self.process.poll() is not None or not self.entry_points:
            return True
        deadline = time.monotonic() + timeout_s
        try:
            for name in self.entry_points:
                self._get(f"/v2/repository/models/{name}/unload", method="POST", timeout=10)
            while time.monotonic() < deadline:
                states = {model.name: model.state for model in self.repository_index()}
                if all(states.get(name) not in ("READY", "UNLOADING") for name in self.entry_points):
                    return True
                time.sleep(0.1)
        except (OSError, ServeError, ValueError):
            return False
        return False

    def stub_models(self) -> dict[int, str]:
        """The live python-backend stubs: PID -> the model it runs (from the stub's model.py path)."""
        stubs = {}
        for pid in child_pids(self.pid):
            argv = cmdline(pid)
            if argv is not None and len(argv) > 1 and argv[1].endswith(b"model.py"):
                stubs[pid] = Path(os.fsdecode(argv[1])).parent.parent.name
        self._stubs.update(stubs)
        return stubs

    def reload(self, model: str, timeout_s: float = 120.0) -> None:
        """Load ``model`` again (its python stubs start afresh); raise ``ServeError`` if it does not come back."""
        try:
            status, body = self._get(f"/v2/repository/models/{model}/load", method="POST", timeout=timeout_s)
        except OSError as error:
            raise ServeError(f"reloading model '{model}' failed: {error}") from None
        if status != 200:
            raise ServeError(f"reloading model '{model}' failed: {one_line(body.decode(errors='replace'))}")

    def send_stop(self) -> None:
        """SIGINT: Triton refuses new requests, waits for in-flight ones up to its exit timeout, exits."""
        if self.process is not None and self.process.poll() is None:
            self._stubs.update(child_pids(self.pid))
            self.process.send_signal(signal.SIGINT)

    def stop(self, timeout_s: float | None = None, *, drain: bool = True) -> int:
        """Drain the pipelines, then SIGINT (SIGKILL after the timeout), reap the stubs; return the exit code."""
        if self.process is None:
            return 0
        if drain:
            self.drain(self.options.exit_timeout_s)
        self.send_stop()
        try:
            code = self.process.wait(timeout=timeout_s if timeout_s is not None else self.options.exit_timeout_s + 15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._reap_stubs()
        return code

    def restart(self, ready_timeout_s: float | None = None) -> list[ModelState]:
        """Stop tritonserver however it is (no drain: it is broken) and start it again on the same ports."""
        self.stop(drain=False)
        self._stubs.clear()
        self.entry_points = []
        self.start()
        return self.wait_until_ready(ready_timeout_s)

    def _reap_stubs(self, grace_s: float = 5.0) -> None:
        """Stubs exit with their server; any that has not after ``grace_s`` is killed by PID."""
        self._stubs.update(stubs_with_prefix(self.shm_prefix))
        deadline = time.monotonic() + grace_s
        while any(pid_alive(pid) for pid in self._stubs) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in self._stubs:
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def keep_log(self) -> Path:
        """Copy the log out of the workdir (``cleanup`` deletes that) and return where; ``cleanup`` copies it again.

        Kept under ``$LUMAFLOW_LOG_DIR`` (default ``~/.cache/lumaflow/logs``) as
        ``tritonserver-<time>-<pid>.log``, the newest ``KEPT_LOGS`` of them. Where that folder cannot be
        written, the log stays in the workdir, which ``cleanup`` then empties of everything else.
        """
        if self.kept_log is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            pid = self.process.pid if self.process is not None else os.getpid()
            folder = log_dir()
            try:
                folder.mkdir(parents=True, exist_ok=True)
                self.kept_log = folder / f"tritonserver-{stamp}-{pid}.log"
                _prune(folder, KEPT_LOGS - 1)
            except OSError:
                self.kept_log = self.log_path
        self._copy_log()
        return self.kept_log

    def _copy_log(self) -> None:
        if self.kept_log is not None and self.kept_log != self.log_path:
            try:
                shutil.copyfile(self.log_path, self.kept_log)
            except FileNotFoundError:  # nothing was logged yet
                self.kept_log.touch()
            except OSError:
                self.kept_log = self.log_path

    def cleanup(self) -> None:
        """Delete the workdir (backends, log); a kept log gets the final lines first and stays."""
        self._copy_log()
        if self.kept_log == self.log_path and self.workdir.is_dir():
            for item in self.workdir.iterdir():
                if item.is_dir():
                    shutil.rmtree(item, ignore_errors=True)
                elif item != self.log_path:
                    item.unlink(missing_ok=True)
            return
        shutil.rmtree(self.workdir, ignore_errors=True)


def log_dir() -> Path:
    """Where the logs of failed starts are kept: ``$LUMAFLOW_LOG_DIR``, else ``$XDG_CACHE_HOME/lumaflow/logs``."""
    if os.environ.get(LOG_DIR_VARIABLE):
        return Path(os.environ[LOG_DIR_VARIABLE])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "lumaflow" / "logs"


def _prune(folder: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` kept tritonserver logs in ``folder``."""
    logs = sorted(folder.glob("tritonserver-*.log"), reverse=True)  # the time in the name sorts them
    for old in logs[keep:]:
        with contextlib.suppress(OSError):
            old.unlink()


@contextlib.contextmanager
def running_server(model_repository: Path | str, **overrides: Any) -> Iterator[TritonServer]:
    """Start a server, yield it ready, stop it afterwards; ``overrides`` are ``ServerOptions`` fields.

    On free loopback ports unless ``endpoints`` is given; ``ready_timeout_s`` defaults to 300 s.
    """
    endpoints = overrides.pop("endpoints", None) or free_endpoints()
    options = ServerOptions(model_repository=model_repository, endpoints=endpoints, ready_timeout_s=300.0)
    options = replace(options, **overrides)
    server = TritonServer(options=options)
    try:
        server.start()
        server.wait_until_ready()
        yield server
    finally:
        server.stop()
        server.cleanup()
