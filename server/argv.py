"""The tritonserver command line and environment, as pure functions (unit-tested without the binary)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lumaflow.ensemble.stages import PHOTO_COMPUTE, PHOTO_COMPUTE_COUNT

from .distribution import TritonDistribution

if TYPE_CHECKING:
    from .options import ServerOptions

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
    options: ServerOptions,
    *,
    binary: Path,
    backend_directory: Path,
    shm_prefix: str,
    admin_token: str | None = None,
    cache_directory: Path | None = None,
) -> list[str]:
    """The tritonserver command line for ``options``, plus what belongs to one process: its binary, backends,
    shared-memory prefix and the supervisor's admin token. ``response_cache_mb`` > 0 turns on the pipelines'
    response cache.

    Triton's rate limiter is always on: the stages' ``rate_limiter`` blocks steer it. One global
    ``photo_compute`` (``ensemble.stages.PHOTO_COMPUTE``) lets one photo network run at a time, and camera
    stages need none of it, so a photo flood cannot take the cores a camera needs.
    """
    endpoints = options.endpoints
    cache = []
    if options.response_cache_mb > 0:
        cache.append(f"--cache-config=local,size={options.response_cache_mb * 1024 * 1024}")
        if cache_directory is not None:
            cache.append(f"--cache-directory={cache_directory}")
    return [
        str(binary),
        f"--model-repository={options.model_repository}",
        f"--backend-directory={backend_directory}",
        f"--grpc-address={endpoints.host}",
        f"--grpc-port={endpoints.grpc_port}",
        f"--http-address={endpoints.bind_host('HTTP')}",
        f"--http-port={endpoints.http_port}",
        f"--metrics-address={endpoints.metrics_host}",
        f"--metrics-port={endpoints.metrics_port}",
        f"--allow-gpu-metrics={str(options.gpu_metrics).lower()}",
        # p50/p90/p99 per model as Prometheus summaries (the Grafana dashboard's latency panels).
        "--metrics-config=summary_latencies=true",
        # Explicit control, every model loaded at start: shutdown can then unload the pipelines
        # first and let their in-flight requests drain (see TritonServer.drain).
        "--model-control-mode=explicit",
        "--load-model=*",
        # Load every model, then let us read the repository index for the ones that failed.
        "--exit-on-error=false",
        f"--strict-readiness={str(not options.allow_partial).lower()}",
        f"--exit-timeout-secs={options.exit_timeout_s}",
        # Unique shared-memory names, so several servers on one machine do not collide.
        f"--backend-config=python,shm-region-prefix-name={shm_prefix}",
        "--backend-config=python,shm-default-byte-size=16777216",
        "--backend-config=python,shm-growth-byte-size=16777216",
        f"--log-verbose={options.log_verbose}",
        *cache,
        *access_argv(options.token, admin_token, options.tls),
        "--rate-limit=execution_count",
        f"--rate-limit-resource={PHOTO_COMPUTE}:{PHOTO_COMPUTE_COUNT}",
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
