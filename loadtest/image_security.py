"""The token inside the container (issue 29, item 6): from a mounted secret file, never in the container's spec.

Triton 2.51 takes its restricted-protocol key only as a command-line flag, so the token is in tritonserver's
argv: readable in ``/proc/PID/cmdline`` by processes of the same user (the container's only user) and by the
host's root. This check shows where it is and where it is not: not in ``podman inspect`` (image, command,
environment), not in any process's argv but tritonserver's, not in ``lumaflow serve``'s own; a call without it
is refused and one with it answered. The container is the boundary: one server per container, nothing else in it.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lumaflow.client import LumaflowClient, Unauthenticated
from lumaflow.loadtest.podman import Container, Ports

if TYPE_CHECKING:
    from lumaflow.loadtest.image_check import Report

SECRET_DIR = "/run/secrets/lumaflow"  # where Kubernetes or podman mounts the Secret
SERVER_UID = 1000  # docker/Dockerfile's USER


def token_check(report: Report, image: str, repository: Path, photo: np.ndarray) -> None:
    """Serve ``repository`` with a token from a mounted file; report who can see it."""

    def check() -> str:
        token = secrets.token_urlsafe(32)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "token"
            path.write_text(token + "\n")
            os.chmod(folder, 0o755)
            os.chown(path, SERVER_UID, SERVER_UID)
            path.chmod(0o600)  # lumaflow serve warns about a token others can read
            ports = Ports.free()
            command = ["--model-repository", "/models", "--host", "0.0.0.0", "--metrics-host", "0.0.0.0"]
            command += ["--auth-token-file", f"{SECRET_DIR}/token"]
            mount = ["--volume", f"{folder}:{SECRET_DIR}:ro"]
            with Container.run(
                image, "lumaflow-check-token", repository=repository, ports=ports, extra=mount, command=command
            ) as container:
                container.wait_ready()
                assert token not in json.dumps(container.inspect()), "the token is in podman inspect"
                holders = _argv_holding(container, token)
                with LumaflowClient(ports.grpc_url, retry=None) as anonymous:
                    try:
                        anonymous.enhance(photo, "upscale_x2_fast")
                        raise AssertionError("a call without the token was answered")
                    except Unauthenticated:
                        pass
                with LumaflowClient(ports.grpc_url, token=token) as client:
                    client.enhance(photo, "upscale_x2_fast")
        assert [name for name, _ in holders] == ["tritonserver"], holders
        assert all(uid == SERVER_UID for _, uid in holders)
        return (
            f"token read from {SECRET_DIR}/token; not in podman inspect; in the argv of tritonserver alone "
            f"(uid {SERVER_UID}: Triton 2.51 takes it only as a flag); refused without it, answered with it"
        )

    report.attempt("the token: a mounted file, in no argv but tritonserver's", check)


def _argv_holding(container: Container, token: str) -> list[tuple[str, int]]:
    """(program name, uid) of every process in the container whose command line holds ``token``."""
    script = (
        "for p in /proc/[0-9]*; do "
        f"if tr '\\0' ' ' <$p/cmdline 2>/dev/null | grep -q -F -- '{token}'; then "
        "echo $(basename \"$(tr '\\0' '\\n' <$p/cmdline | head -1)\") "
        "$(sed -n 's/^Uid:\\t\\([0-9]*\\).*/\\1/p' $p/status); "
        "fi; done"
    )
    lines = container.exec("/bin/sh", "-c", script).splitlines()
    found = [line.split() for line in lines if line.strip()]
    return [(parts[0], int(parts[1])) for parts in found if parts[0] not in ("sh", "grep", "tr")]
