"""What ``LumaflowClient`` and ``AsyncLumaflowClient`` share: endpoints, deadlines, retry decisions, metrics,
backpressure.

Only the waiting (``time.sleep`` or ``asyncio.sleep``, a thread's or a task's semaphore) and the
tritonclient flavour differ between them; every decision about a failed try is made here, once.

Backpressure: with ``max_in_flight=N`` a client has at most N calls in flight at once (each call with
all its tries, retries and backoff included), however many threads or tasks call it. A call beyond
that waits for a slot until its own deadline (``DeadlineExceeded`` when it passes first), or, with
``wait_when_full=False``, fails at once with ``Overloaded`` without reaching the server: the caller
sheds load itself instead of adding to a full server's queue. Either way no call is lost: each
returns a result or raises its typed error.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import grpc
from tritonclient.utils import InferenceServerException

from .errors import DeadlineExceeded, LumaflowError, Overloaded, Unavailable, from_triton
from .metrics import ClientMetrics
from .policy import AUTH_HEADER, Endpoint, EndpointPool, RetryPolicy, TLSConfig

C = TypeVar("C")
DEFAULT_TIMEOUT_S = 120.0
PROBE_TIMEOUT_S = 2.0


class ClientCore(Generic[C]):
    """Endpoints made with ``_client`` (tritonclient's sync or aio client), round-robin with failover.

    The sync and the asyncio client take the same keywords; each says how it opens a tritonclient
    (``_client``) and how its calls wait for a slot (``_new_slots``).
    """

    def __init__(
        self,
        url: str | Sequence[str],
        *,
        token: str | None = None,
        tls: TLSConfig | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy | None = None,
        metrics: ClientMetrics | None = None,
        seed: int | None = None,
        max_in_flight: int | None = None,
        wait_when_full: bool = True,
    ) -> None:
        urls = [url] if isinstance(url, str) else list(url)
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
        self.max_in_flight = max_in_flight
        self.wait_when_full = wait_when_full
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.metrics = metrics
        self.headers = {AUTH_HEADER: token} if token else None
        self._tls = tls
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._slots = self._new_slots(max_in_flight) if max_in_flight else None
        self.pool: EndpointPool[C] = EndpointPool(urls, self._connect)

    def _client(self, url: str, **kwargs: Any) -> C:
        """A tritonclient of this flavour for ``url``."""
        raise NotImplementedError

    def _new_slots(self, count: int) -> Any:
        """A semaphore of ``count`` slots that this flavour's calls wait on."""
        raise NotImplementedError

    def _connect(self, url: str) -> C:
        # No channel_args: tritonclient then sets its own unlimited message sizes (photos are large).
        if self._tls is None:
            return self._client(url)
        # tritonclient's root_certificates= etc. are file paths; our PEM bytes go in as credentials.
        credentials = grpc.ssl_channel_credentials(
            root_certificates=self._tls.root_certificates,
            private_key=self._tls.private_key,
            certificate_chain=self._tls.certificate_chain,
        )
        return self._client(url, creds=credentials)

    def _deadline(self, timeout: float | None) -> tuple[float, float]:
        """(budget in seconds, monotonic deadline) of one call: every try fits inside it."""
        budget = self.timeout if timeout is None else timeout
        return budget, time.monotonic() + budget

    @staticmethod
    def _remaining(budget: float, deadline: float, attempt: int) -> float:
        """Seconds left for try ``attempt``; ``DeadlineExceeded`` when none are."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded(f"the call's {budget:g} s deadline passed after {attempt - 1} tries")
        return remaining

    def _failed(
        self, pipeline: str, endpoint: Endpoint[C], raw: InferenceServerException | LumaflowError, attempt: int,
        deadline: float,
    ) -> float:  # fmt: skip
        """After a failed try: the pause before the next one, or the typed error raised."""
        error = from_triton(raw) if isinstance(raw, InferenceServerException) else raw
        if isinstance(error, Unavailable):
            self.pool.eject(endpoint)
        retry = self.retry.should_retry(error) and attempt < self.retry.attempts and deadline - time.monotonic() > 0
        if self.metrics is not None:
            counter = self.metrics.retries if retry else self.metrics.errors
            counter.labels(pipeline, type(error).__name__).inc()
        if not retry:
            raise error from None
        with self._rng_lock:
            pause = self.retry.delay(attempt, self._rng)
        return min(pause, max(0.0, deadline - time.monotonic()))

    def _full(self, pipeline: str, budget: float) -> LumaflowError:
        """The error of a call that found no free slot: at once (``Overloaded``) or at its deadline."""
        if self.wait_when_full:
            error: LumaflowError = DeadlineExceeded(
                f"the call's {budget:g} s deadline passed waiting for one of this client's "
                f"{self.max_in_flight} slots (max_in_flight)"
            )
        else:
            error = Overloaded(
                f"this client already has {self.max_in_flight} calls in flight (max_in_flight)", reason="client_full"
            )
        if self.metrics is not None:
            self.metrics.errors.labels(pipeline, type(error).__name__).inc()
        return error

    def _succeeded(self, pipeline: str, endpoint: Endpoint[C], started: float) -> None:
        self.pool.healthy(endpoint)
        if self.metrics is not None:
            self.metrics.latency.labels(pipeline).observe(time.monotonic() - started)

    @staticmethod
    def _infer_kwargs(headers: dict[str, str] | None, remaining: float) -> dict[str, Any]:
        """The deadline goes to the server too, as Triton's request timeout (µs): a gRPC deadline does not
        reach the models inside an ensemble (measured with Triton 2.51), and a tiler stops at it."""
        return {"headers": headers, "client_timeout": remaining, "timeout": max(1, int(remaining * 1e6))}


class Progress:
    """``enhance_many``'s progress line on stderr (when asked): one count per finished image, from any thread."""

    def __init__(self, pipeline: str, total: int, shown: bool) -> None:
        self.pipeline, self.total, self.shown = pipeline, total, shown
        self.done = 0
        self._lock = threading.Lock()

    def step(self) -> None:
        with self._lock:
            self.done += 1
            if self.shown:
                print(f"\r{self.pipeline}: {self.done}/{self.total}", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.shown:
            print(file=sys.stderr)
