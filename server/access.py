"""Read what ``lumaflow serve --auth-token-file / --tls-cert / --tls-key`` name, refusing what would not protect.

A token goes on Triton's command line inside ``<protocols>:<key>=<value>``, so it must be one
printable word without the separators of that flag; a short one is refused as guessable.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

from .argv import ServerTLS
from .distribution import ServeError

MIN_TOKEN_LENGTH = 16
TOKEN_CHARACTERS = re.compile(r"[A-Za-z0-9._~+/-]+")


def read_token(path: Path) -> tuple[str, list[str]]:
    """The token in ``path`` (surrounding whitespace ignored), and warnings about how the file is kept."""
    try:
        token = path.read_text().strip()
    except OSError as error:
        raise ServeError(f"cannot read the token file {path}: {error.strerror}") from None
    if not token:
        raise ServeError(f"the token file {path} is empty")
    if not TOKEN_CHARACTERS.fullmatch(token):
        raise ServeError(
            f"the token in {path} must be one word of letters, digits and . _ ~ + / - "
            "(for example: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    if len(token) < MIN_TOKEN_LENGTH:
        raise ServeError(f"the token in {path} has {len(token)} characters; use at least {MIN_TOKEN_LENGTH}")
    warnings = []
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.append(f"the token file {path} is readable by other users; chmod 600 it")
    return token, warnings


def read_tls(cert: Path | None, key: Path | None) -> ServerTLS | None:
    """Both PEM files or neither; each must exist and look like PEM."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ServeError("gRPC TLS needs both --tls-cert and --tls-key")
    for path, marker in ((cert, "CERTIFICATE"), (key, "PRIVATE KEY")):
        try:
            text = path.read_text(errors="replace")
        except OSError as error:
            raise ServeError(f"cannot read {path}: {error.strerror}") from None
        if f"-----BEGIN {marker}" not in text and not (marker == "PRIVATE KEY" and "PRIVATE KEY-----" in text):
            raise ServeError(f"{path} is not a PEM {marker.lower()}")
    return ServerTLS(cert.resolve(), key.resolve())
