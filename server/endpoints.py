"""Where a tritonserver listens and where its models come from: ports, bind addresses, remote repositories."""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass
from pathlib import Path

from .distribution import ServeError


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
