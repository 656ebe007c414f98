"""Client-side Prometheus metrics, when the caller asks for them (``LumaflowClient(metrics=...)``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class ClientMetrics:
    """Latency per pipeline, errors by type, retries by reason, in ``registry`` (a fresh one by default)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.latency = Histogram(
            "lumaflow_client_request_seconds",
            "Wall time of successful calls as the client saw them, retries included",
            ["pipeline"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "lumaflow_client_errors_total",
            "Calls that failed, by error type",
            ["pipeline", "error"],
            registry=self.registry,
        )
        self.retries = Counter(
            "lumaflow_client_retries_total",
            "Tries sent again, by the error that caused it",
            ["pipeline", "error"],
            registry=self.registry,
        )
