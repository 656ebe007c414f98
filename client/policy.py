"""Retries and endpoints: the decisions the sync and async clients share.

Retried: ``Unavailable`` (refused connection, shutdown, not ready), on another endpoint when there
is one, because an enhancement is a pure function of its inputs and sending it twice is safe.
``Overloaded`` only when the caller opts in (a retry adds load to a full queue). Never a bad
request (INVALID_ARGUMENT) or a missing token: those fail the same way every time.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from .errors import LumaflowError, Overloaded, Unavailable

AUTH_HEADER = "triton-grpc-protocol-lumaflow-token"  # what --grpc-restricted-protocol=...:lumaflow-token=... checks


@dataclass(frozen=True)
class RetryPolicy:
    """Up to ``attempts`` tries, with exponential backoff and full jitter between them."""

    attempts: int = 4
    backoff_s: float = 0.1
    max_backoff_s: float = 2.0
    retry_overloaded: bool = False

    def should_retry(self, error: LumaflowError) -> bool:
        return isinstance(error, Unavailable) or (self.retry_overloaded and isinstance(error, Overloaded))

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 1)."""
        return rng.uniform(0.0, min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class TLSConfig:
    """gRPC over TLS: PEM bytes of the CA roots, and the client's key and certificate for mutual TLS."""

    root_certificates: bytes | None = None
    private_key: bytes | None = None
    certificate_chain: bytes | None = None


C = TypeVar("C")


class Endpoint(Generic[C]):
    """One server URL, its connection (made on first use) and its health record."""

    def __init__(self, url: str, connect: Callable[[str], C]) -> None:
        self.url = url
        self._connect = connect
        self._client: C | None = None
        self.failures = 0
        self.ejected_until = 0.0

    @property
    def client(self) -> C:
        if self._client is None:
            self._client = self._connect(self.url)
        return self._client

    def close(self) -> C | None:
        client, self._client = self._client, None
        return client


class EndpointPool(Generic[C]):
    """Round-robin over the healthy endpoints; one that fails is ejected, for longer each time.

    An ejected endpoint comes back when its time is up (the caller probes it before use); when all
    are ejected the one due back first is used rather than failing without trying.
    """

    def __init__(self, urls: Sequence[str], connect: Callable[[str], C], max_ejection_s: float = 30.0) -> None:
        if not urls:
            raise ValueError("give at least one server URL")
        self.endpoints = [Endpoint(url, connect) for url in urls]
        self.max_ejection_s = max_ejection_s
        self._next = 0
        self._lock = threading.Lock()

    def pick(self) -> tuple[Endpoint[C], bool]:
        """The next endpoint, and whether it returns from an ejection (probe it before use)."""
        now = time.monotonic()
        with self._lock:
            count = len(self.endpoints)
            for offset in range(count):
                endpoint = self.endpoints[(self._next + offset) % count]
                if endpoint.ejected_until <= now:
                    self._next = (self._next + offset + 1) % count
                    return endpoint, endpoint.failures > 0
            return min(self.endpoints, key=lambda endpoint: endpoint.ejected_until), True

    def eject(self, endpoint: Endpoint[C]) -> None:
        with self._lock:
            endpoint.failures += 1
            # The exponent is capped: a server down for long fails thousands of tries (2.0 ** 1024 overflows).
            backoff = 0.5 * 2.0 ** min(endpoint.failures - 1, 16)
            endpoint.ejected_until = time.monotonic() + min(self.max_ejection_s, backoff)

    def healthy(self, endpoint: Endpoint[C]) -> None:
        with self._lock:
            endpoint.failures = 0
            endpoint.ejected_until = 0.0
