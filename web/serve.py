"""Running the web page: ``lumaflow web`` in the foreground, or beside ``lumaflow serve`` (``--web-port``) in a thread.

Loopback by default. Off loopback the page needs a web token (``--web-token-file``): without one anybody on the
network could send photos through the servers, so ``web_settings`` refuses to start instead.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from lumaflow.web.settings import WebSettings

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class WebError(Exception):
    """A setting the page cannot start with; one line for the command to print."""


def read_secret(path: Path, what: str) -> str:
    """The one word a token file holds; WebError when it is missing or empty."""
    try:
        token = path.read_text().strip()
    except OSError as error:
        raise WebError(f"cannot read the {what} file {path}: {error.strerror}") from None
    if not token or len(token.split()) != 1:
        raise WebError(f"the {what} file {path} must hold one word")
    return token


def web_settings(
    urls: Sequence[str], host: str, token_file: Path | None = None, web_token_file: Path | None = None
) -> WebSettings:
    """The page's settings; a non-loopback ``host`` without a web token is refused."""
    web_token = read_secret(web_token_file, "web token") if web_token_file else None
    if host not in LOOPBACK and web_token is None:
        raise WebError(f"--host {host} is not loopback: give --web-token-file, or anyone on the network may use it")
    token = read_secret(token_file, "server token") if token_file else None
    return WebSettings(urls=tuple(urls), token=token, web_token=web_token)


class WebServer:
    """uvicorn serving the page in a thread of this process (``lumaflow serve --web-port``); stopped with it."""

    def __init__(self, settings: WebSettings, host: str, port: int) -> None:
        import uvicorn

        from lumaflow.web.app import create_app

        self.url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
        config = uvicorn.Config(create_app(settings), host=host, port=port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="lumaflow-web", daemon=True)

    def start(self, timeout_s: float = 15.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise WebError(f"the web page did not start on {self.url} (is the port taken?)")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def add_web(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    web = commands.add_parser("web", help="the web page: enhance photos, brush where, compare before and after")
    web.add_argument("--url", action="append", help="HOST:PORT of a Lumaflow server's gRPC (repeat: failover)")
    web.add_argument("--host", default="127.0.0.1", help="address the page binds (default: loopback only)")
    web.add_argument("--port", type=int, default=8080)
    web.add_argument("--token-file", type=Path, help="the servers' token (lumaflow serve --auth-token-file)")
    web.add_argument("--web-token-file", type=Path, help="the page's own token: a login form (required off loopback)")
    web.set_defaults(handler=cmd_web)


def cmd_web(args: argparse.Namespace) -> int:
    import uvicorn

    from lumaflow.web.app import create_app

    try:
        settings = web_settings(args.url or ["127.0.0.1:8001"], args.host, args.token_file, args.web_token_file)
    except WebError as error:
        print(f"lumaflow web: error: {error}")
        return 2
    print(f"Lumaflow web page on http://{args.host}:{args.port}/ (servers: {', '.join(settings.urls)})", flush=True)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning")
    return 0
