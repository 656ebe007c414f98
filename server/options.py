"""Every option of ``lumaflow serve``, read once into a frozen ``ServerOptions`` and passed down unchanged.

``from_args`` is the only place that reads the parsed command line (and the token and TLS files it
names); the tritonserver wrapper, the supervisor and the serve loop take the ``ServerOptions``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .access import read_tls, read_token
from .argv import ServerTLS
from .distribution import ServeError
from .endpoints import Endpoints, is_remote


@dataclass(frozen=True)
class ServerOptions:
    """One tritonserver as ``lumaflow serve`` runs it; tests and benchmarks build one directly."""

    model_repository: Path | str
    """A local directory (made absolute here) or an ``s3://`` ``gs://`` ``as://`` URL Triton reads itself."""
    endpoints: Endpoints = field(default_factory=Endpoints)
    """Bind addresses and ports of gRPC, HTTP and metrics (``--host``, ``--grpc-port``, ...)."""
    exit_timeout_s: int = 30
    """Seconds in-flight requests get on shutdown (``--exit-timeout``; Triton's ``--exit-timeout-secs``)."""
    ready_timeout_s: float = 600.0
    """Seconds to wait for every model to load, at start and after a restart (``--ready-timeout``)."""
    log_verbose: int = 0
    """Triton's ``--log-verbose`` level."""
    response_cache_mb: int = 0
    """Size of Triton's response cache for the pipelines that enable it; 0: off (``--response-cache-mb``)."""
    allow_partial: bool = False
    """Serve the models that loaded when some fail (``--allow-partial``; Triton's ``--strict-readiness=false``)."""
    token: str | None = field(default=None, repr=False)
    """The token every call but health needs (read from ``--auth-token-file``); never shown."""
    tls: ServerTLS | None = None
    """gRPC TLS certificate and key (``--tls-cert``, ``--tls-key``)."""
    gpu_metrics: bool = False
    """Export Triton's GPU metrics (``--gpu-metrics``)."""
    deep_check_interval_s: float = 30.0
    """Seconds between the supervisor's probe requests through every pipeline; 0: processes only."""
    max_restarts: int = 3
    """tritonserver restarts the supervisor may make per hour; -1: no supervision (``--max-restarts``)."""
    web_port: int = 0
    """Also serve the web page (``lumaflow.web``) on this port of the host; 0: no page (``--web-port``)."""
    web_token_file: Path | None = None
    """The web page's own token file (``--web-token-file``), required when the host is not loopback."""
    probe_port: int = 0
    """Answer Kubernetes' ``/livez`` and ``/readyz`` on this port of the host (``--probe-port``); 0: not at all."""

    def __post_init__(self) -> None:
        repository = self.model_repository
        normal = str(repository) if is_remote(repository) else Path(repository).resolve()
        object.__setattr__(self, "model_repository", normal)  # "s3://" as a Path would collapse to "s3:/"

    @property
    def remote(self) -> bool:
        """Whether Triton reads the repository from an object store (nothing is built or generated here)."""
        return isinstance(self.model_repository, str)


def from_args(args: argparse.Namespace, *, warn: Callable[[str], None]) -> ServerOptions:
    """The options ``lumaflow serve``'s parser read; ``warn`` gets what is unsafe but allowed (a readable token file).

    Raises ``ServeError`` for a missing local repository, a bad token file or bad TLS files.
    """
    from lumaflow.build.deploy import DEFAULT_REPOSITORY

    repository: Path | str = args.model_repository or DEFAULT_REPOSITORY
    if not is_remote(repository):
        repository = Path(repository).resolve()
        if not repository.is_dir():
            raise ServeError(f"model repository {repository} does not exist (see --model-repository)")
    token = None
    if args.auth_token_file:
        token, warnings = read_token(Path(args.auth_token_file))
        for warning in warnings:
            warn(warning)
    tls = read_tls(args.tls_cert, args.tls_key)
    # Triton has no TLS for HTTP: with gRPC encrypted, HTTP stays on loopback unless asked.
    http_host = args.http_host or ("127.0.0.1" if tls is not None else None)
    ports = (args.grpc_port, args.http_port, args.metrics_port)
    return ServerOptions(
        model_repository=repository,
        endpoints=Endpoints(args.host, *ports, http_host=http_host, metrics_host=args.metrics_host),
        exit_timeout_s=args.exit_timeout,
        ready_timeout_s=args.ready_timeout,
        log_verbose=args.log_verbose,
        response_cache_mb=args.response_cache_mb,
        allow_partial=args.allow_partial,
        token=token,
        tls=tls,
        gpu_metrics=args.gpu_metrics,
        deep_check_interval_s=args.deep_check_interval,
        max_restarts=args.max_restarts,
        web_port=getattr(args, "web_port", 0),
        web_token_file=getattr(args, "web_token_file", None),
        probe_port=getattr(args, "probe_port", 0),
    )
