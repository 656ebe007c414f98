"""Run the bundled tritonserver as a child process: argv, environment, readiness, shutdown.

Modelled on pytriton's ``TritonServer``: keyword-only construction, the child dies with its
parent (``PR_SET_PDEATHSIG``), stop is SIGINT -> wait -> kill, output captured to a log file.
Unlike pytriton it reports a failed start as one line (the port, the model and Triton's reason)
and reaps the python-backend stub processes by PID so none outlive the server.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lumaflow.ensemble.stages import PHOTO_COMPUTE, PHOTO_COMPUTE_COUNT

from .distribution import ServeError, TritonDistribution

PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Endpoints:
    """Where the server listens; ``host`` 127.0.0.1 keeps it private to this machine.

    Triton cannot restrict its metrics port, and its HTTP port has no TLS: ``metrics_host`` stays
    on loopback unless asked, and ``http_host`` (default: ``host``) lets HTTP stay local when gRPC
    is the only endpoint that is encrypted.
    """

    host: str = "127.0.0.1"
    grpc_port: int = 8001
    http_port: int = 8000
    metrics_port: int = 8002
    http_host: str | None = None
    metrics_host: str = "127.0.0.1"

    def bind_host(self, name: str) -> str:
        """The address the ``gRPC``, ``HTTP`` or ``metrics`` endpoint binds."""
        return {"HTTP": self.http_host or self.host, "metrics": self.metrics_host}.get(name, self.host)

    @property
    def connect_host(self) -> str:
        """The address a local client dials for gRPC (a wildcard bind is reached through loopback)."""
        return _dial(self.host)

    @property
    def grpc_url(self) -> str:
        """``host:port`` as tritonclient.grpc expects it."""
        return f"{self.connect_host}:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://{_dial(self.bind_host('HTTP'))}:{self.http_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{_dial(self.metrics_host)}:{self.metrics_port}/metrics"

    def ports(self) -> dict[str, int]:
        return {"gRPC": self.grpc_port, "HTTP": self.http_port, "metrics": self.metrics_port}


def _dial(host: str) -> str:
    """The address a local client dials to reach a server bound to ``host``."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}.get(host, host)


def free_endpoints(host: str = "127.0.0.1") -> Endpoints:
    """Three ports the kernel says are free now (another process may still take one first)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(3):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(sock.getsockname()[1])
    return Endpoints(host=host, grpc_port=ports[0], http_port=ports[1], metrics_port=ports[2], metrics_host=host)


def check_ports_free(endpoints: Endpoints) -> None:
    """Fail early, before minutes of model loading, when a port is taken."""
    flags = {"gRPC": "--grpc-port", "HTTP": "--http-port", "metrics": "--metrics-port"}
    for name, port in endpoints.ports().items():
        host = endpoints.bind_host(name)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host.strip("[]"), port))
            except OSError as error:
                raise ServeError(
                    f"{name} port {port} on {host} is not available ({error.strerror}); "
                    f"choose another with {flags[name]}"
                ) from None


REMOTE_SCHEMES = ("s3://", "gs://", "as://")  # object stores Triton reads a model repository from


def is_remote(repository: str | Path) -> bool:
    """Whether ``repository`` is an object-store URL (Triton reads it; credentials come from its environment)."""
    return str(repository).startswith(REMOTE_SCHEMES)


TOKEN_KEY = "lumaflow-token"
ADMIN_KEY = "lumaflow-admin"
# Everything a client may do once it holds the token; health stays open for load balancers and probes.
CLIENT_PROTOCOLS = ("inference", "metadata", "model-config", "statistics", "shared-memory", "trace", "logging")
# Loading and unloading models: only the local supervisor (``lumaflow serve``) holds this key.
ADMIN_PROTOCOLS = ("model-repository",)


@dataclass(frozen=True)
class ServerTLS:
    """PEM files for gRPC TLS (Triton has no TLS for HTTP)."""

    cert: Path
    key: Path


def access_argv(token: str | None, admin_token: str | None, tls: ServerTLS | None) -> list[str]:
    """Triton's flags for the protocols a caller needs a header for, and for gRPC TLS.

    gRPC clients send ``triton-grpc-protocol-<key>``, HTTP clients ``<key>``. Triton takes the values
    on its command line, where other local users can read them (``/proc/PID/cmdline``): docs/SECURITY.md.
    """
    flags = []
    groups = [(CLIENT_PROTOCOLS, TOKEN_KEY, token), (ADMIN_PROTOCOLS, ADMIN_KEY, admin_token)]
    for protocols, key, value in groups:
        if value:
            flags.append(f"--grpc-restricted-protocol={','.join(protocols)}:{key}={value}")
            flags.append(f"--http-restricted-api={','.join(protocols)}:{key}={value}")
    if tls is not None:
        flags += ["--grpc-use-ssl=true", f"--grpc-server-cert={tls.cert}", f"--grpc-server-key={tls.key}"]
    return flags


def server_argv(
    binary: Path,
    *,
    model_repository: Path | str,
    backend_directory: Path,
    endpoints: Endpoints,
    shm_prefix: str,
    exit_timeout_s: int,
    log_verbose: int = 0,
    response_cache_mb: int = 0,
    cache_directory: Path | None = None,
    token: str | None = None,
    admin_token: str | None = None,
    tls: ServerTLS | None = None,
    strict_readiness: bool = True,
    rate_limit: bool = True,
    gpu_metrics: bool = False,
) -> list[str]:
    """The tritonserver command line; ``response_cache_mb`` > 0 turns on the pipelines' response cache.

    ``rate_limit`` turns on Triton's rate limiter, which the stages' ``rate_limiter`` blocks then steer:
    one global ``photo_compute`` (``ensemble.stages.PHOTO_COMPUTE``) lets one photo network run at a
    time, and camera stages need none of it, so a photo flood cannot take the cores a camera needs.
    """
    cache = []
    if response_cache_mb > 0:
        cache.append(f"--cache-config=local,size={response_cache_mb * 1024 * 1024}")
        if cache_directory is not None:
            cache.append(f"--cache-directory={cache_directory}")
    return [
        str(binary),
        f"--model-repository={model_repository}",
        f"--backend-directory={backend_directory}",
        f"--grpc-address={endpoints.host}",
        f"--grpc-port={endpoints.grpc_port}",
        f"--http-address={endpoints.bind_host('HTTP')}",
        f"--http-port={endpoints.http_port}",
        f"--metrics-address={endpoints.metrics_host}",
        f"--metrics-port={endpoints.metrics_port}",
        f"--allow-gpu-metrics={str(gpu_metrics).lower()}",
        # p50/p90/p99 per model as Prometheus summaries (the Grafana dashboard's latency panels).
        "--metrics-config=summary_latencies=true",
        # Explicit control, every model loaded at start: shutdown can then unload the pipelines
        # first and let their in-flight requests drain (see TritonServer.drain).
        "--model-control-mode=explicit",
        "--load-model=*",
        # Load every model, then let us read the repository index for the ones that failed.
        "--exit-on-error=false",
        f"--strict-readiness={str(strict_readiness).lower()}",
        f"--exit-timeout-secs={exit_timeout_s}",
        # Unique shared-memory names, so several servers on one machine do not collide.
        f"--backend-config=python,shm-region-prefix-name={shm_prefix}",
        "--backend-config=python,shm-default-byte-size=16777216",
        "--backend-config=python,shm-growth-byte-size=16777216",
        f"--log-verbose={log_verbose}",
        *cache,
        *access_argv(token, admin_token, tls),
        *(
            ["--rate-limit=execution_count", f"--rate-limit-resource={PHOTO_COMPUTE}:{PHOTO_COMPUTE_COUNT}"]
            if rate_limit
            else []
        ),
    ]


def server_env(base: dict[str, str], distribution: TritonDistribution, python: str = sys.executable) -> dict[str, str]:
    """The environment the server and its stubs need: our interpreter first, libpython found."""
    env = dict(base)
    env["PATH"] = os.pathsep.join([str(Path(python).parent), base.get("PATH", "")]).rstrip(os.pathsep)
    libraries = [str(path) for path in distribution.library_dirs]
    if base.get("LD_LIBRARY_PATH"):
        libraries.append(base["LD_LIBRARY_PATH"])
    env["LD_LIBRARY_PATH"] = os.pathsep.join(libraries)
    return env


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _proc_stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first, then ppid), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is parenthesised and may contain spaces and parentheses itself.
    return stat[stat.rindex(")") + 2 :].split()


def child_pids(pid: int) -> list[int]:
    """PIDs whose parent is ``pid`` (the python-backend stubs of a tritonserver)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _proc_stat(entry.name)
            if fields is not None and int(fields[1]) == pid:
                children.append(int(entry.name))
    return children


def stubs_with_prefix(shm_prefix: str) -> list[int]:
    """Live python-backend stubs whose shared-memory region (their second argument) starts with ``shm_prefix``.

    Each server has its own prefix, so this finds its stubs whichever backend directory they run from, and
    unlike ``child_pids`` still finds one whose server has exited (init's child then), e.g. one forked while
    a failed start was being stopped (seen once: a stub lived on for 20 minutes).
    """
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        if len(argv) > 2 and argv[2].startswith(shm_prefix.encode()) and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not count)."""
    fields = _proc_stat(pid)
    return fields is not None and fields[0] != "Z"


@dataclass(frozen=True)
class ModelState:
    """One entry of Triton's repository index."""

    name: str
    version: str
    state: str
    reason: str


class TritonServer:
    """One tritonserver process serving a model repository."""

    def __init__(
        self,
        *,
        model_repository: Path | str,
        endpoints: Endpoints | None = None,
        exit_timeout_s: int = 30,
        log_verbose: int = 0,
        distribution: TritonDistribution | None = None,
        response_cache_mb: int = 0,
        token: str | None = None,
        tls: ServerTLS | None = None,
        allow_partial: bool = False,
        gpu_metrics: bool = False,
    ) -> None:
        remote = is_remote(model_repository)
        self.model_repository: Path | str = str(model_repository) if remote else Path(model_repository).resolve()
        self.endpoints = endpoints or Endpoints()
        self.exit_timeout_s = exit_timeout_s
        self.log_verbose = log_verbose
        self.response_cache_mb = response_cache_mb
        self.token = token
        self.tls = tls
        self.allow_partial = allow_partial
        self.gpu_metrics = gpu_metrics
        # Model loading and unloading are ours alone: a fresh secret per server, never shown.
        self.admin_token = secrets.token_urlsafe(24)
        self.missing: list[ModelState] = []  # models that failed to load (served anyway: allow_partial)
        self.distribution = distribution or TritonDistribution.locate()
        self.workdir = Path(tempfile.mkdtemp(prefix="lumaflow-triton-"))
        # Names this server's shared-memory regions, which its stubs get as an argument (``stubs_with_prefix``).
        self.shm_prefix = f"lumaflow{os.getpid()}_{self.workdir.name.rsplit('-', 1)[-1]}_"
        self.log_path = self.workdir / "tritonserver.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._stubs: set[int] = set()
        self.entry_points: list[str] = []  # the ensembles clients call; drained first on stop

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the server has not been started")
        return self.process.pid

    def argv(self) -> list[str]:
        return server_argv(
            self.distribution.binary,
            model_repository=self.model_repository,
            backend_directory=self.distribution.backend_directory(self.workdir),
            endpoints=self.endpoints,
            shm_prefix=self.shm_prefix,
            exit_timeout_s=self.exit_timeout_s,
            log_verbose=self.log_verbose,
            response_cache_mb=self.response_cache_mb,
            cache_directory=self.distribution.caches,
            token=self.token,
            admin_token=self.admin_token,
            tls=self.tls,
            strict_readiness=not self.allow_partial,
            gpu_metrics=self.gpu_metrics,
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

    def wait_until_ready(self, timeout_s: float = 300.0) -> list[ModelState]:
        """Block until every model is READY; raise ``ServeError`` naming what went wrong."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process is None or self.process.poll() is not None:
                raise ServeError(self._exit_reason())
            with contextlib.suppress(OSError):
                status, _ = self._get("/v2/health/live")
                if status == 200:
                    break
            if time.monotonic() > deadline:
                raise ServeError(f"tritonserver did not come up within {timeout_s:.0f} s (log: {self.log_path})")
            time.sleep(0.2)
        while True:
            models = self.repository_index()
            failed = [model for model in models if model.state == "UNAVAILABLE"]
            if failed and not self.allow_partial:
                model = failed[0]
                raise ServeError(f"model '{model.name}' failed to load: {one_line(model.reason)}")
            if models and all(model.state in ("READY", "UNAVAILABLE") for model in models):
                status, _ = self._get("/v2/health/ready")
                if status == 200:
                    self.missing = failed
                    self._stubs.update(child_pids(self.pid))
                    ready = [model for model in models if model.state == "READY"]
                    self.entry_points = [model.name for model in ready if self._is_ensemble(model.name)]
                    return ready
            if time.monotonic() > deadline:
                raise ServeError(f"models still loading after {timeout_s:.0f} s (log: {self.log_path})")
            time.sleep(0.2)

    def _exit_reason(self) -> str:
        code = self.process.returncode if self.process else None
        lines = [line.strip() for line in self.logs().splitlines() if line.strip()]
        for needle in ("already in use", "error:", "failed to", "Internal"):
            for line in lines:
                if needle in line:
                    return f"tritonserver exited ({code}): {one_line(line)} (log: {self.log_path})"
        return f"tritonserver exited with code {code} (log: {self.log_path})"

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
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if len(argv) > 1 and argv[1].endswith(b"model.py"):
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
            self.drain(self.exit_timeout_s)
        self.send_stop()
        try:
            code = self.process.wait(timeout=timeout_s if timeout_s is not None else self.exit_timeout_s + 15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._reap_stubs()
        return code

    def restart(self, ready_timeout_s: float = 300.0) -> list[ModelState]:
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

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def one_line(text: str, limit: int = 400) -> str:
    """The telling line of a multi-line reason.

    Triton's python backend reports ``Internal: ValueError: message`` then ``At:`` and a
    traceback with file paths: the first line is the one a person needs.
    """
    lines = [line.strip() for line in text.split("\nAt:\n")[0].strip().splitlines() if line.strip()]
    line = lines[0] if lines else "no reason given"
    return line if len(line) <= limit else line[: limit - 1] + "…"


@contextlib.contextmanager
def running_server(
    model_repository: Path,
    *,
    endpoints: Endpoints | None = None,
    ready_timeout_s: float = 300.0,
    exit_timeout_s: int = 30,
    log_verbose: int = 0,
    response_cache_mb: int = 0,
    token: str | None = None,
    tls: ServerTLS | None = None,
    allow_partial: bool = False,
) -> Iterator[TritonServer]:
    """Start a server (on free loopback ports by default), yield it ready, stop it afterwards."""
    server = TritonServer(
        model_repository=model_repository,
        endpoints=endpoints or free_endpoints(),
        exit_timeout_s=exit_timeout_s,
        log_verbose=log_verbose,
        response_cache_mb=response_cache_mb,
        token=token,
        tls=tls,
        allow_partial=allow_partial,
    )
    try:
        server.start()
        server.wait_until_ready(ready_timeout_s)
        yield server
    finally:
        server.stop()
        server.cleanup()
