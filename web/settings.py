"""What the web page runs with (no web framework imported: the CLI reads it without Starlette installed)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class WebSettings:
    urls: tuple[str, ...]  # the Lumaflow servers' gRPC addresses (several: failover)
    token: str | None = field(default=None, repr=False)  # the servers' token, forwarded
    web_token: str | None = field(default=None, repr=False)  # the page's own (a login form); None on loopback
    timeout_s: float = 900.0  # one photo's deadline: a 12 MP upscale takes minutes on 2 CPU cores
