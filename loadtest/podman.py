"""Lumaflow's image in containers, through Debian's podman: what ``make image-check`` and its tests start and stop.

podman runs as root here with runc and explicit limits: the default crun fails on these machines (cgroups v1
in hybrid mode, setrlimit not permitted), and podman's default of 2048 processes per container is less than
one full repository needs (tritonserver alone runs about 1,700 threads for 70 models, and each python
model adds a stub process), so ``RUN_FLAGS`` raises the pids limit with the file and process limits.
Containers are named, found and stopped by that name and their host PID, never by a process name.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RUN_FLAGS = (
    "--runtime",
    "runc",
    "--ulimit",
    "nofile=16384:16384",
    "--ulimit",
    "nproc=32768:32768",
    "--pids-limit",
    "16384",
)
SHM_SIZE = "1g"  # the python backend's shared memory: the largest photo tensor in flight must fit
TMP_SIZE = "1g"  # /tmp, the only writable place: the server's work directory, its logs, Python's caches
CONTAINER_PORTS = (8001, 8000, 8002, 8003)  # gRPC, HTTP, metrics, probes inside (docker/Dockerfile's EXPOSE)


class ContainerError(RuntimeError):
    """A container that did not do what was asked, with what it printed."""


def podman_unusable() -> str | None:
    """Why containers cannot run here (None: they can): podman or runc missing, or not root."""
    for tool in ("podman", "runc"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install podman runc)"
    if os.geteuid() != 0:
        return "podman runs containers here as root only (rootless podman needs user namespaces)"
    return None


def podman(*args: str, timeout_s: float = 120.0, check: bool = True) -> subprocess.CompletedProcess[str]:
    """One podman command; ``ContainerError`` with its stderr when it fails and ``check``."""
    done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout_s)
    if check and done.returncode != 0:
        raise ContainerError(f"podman {args[0]} failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    return done


def free_port() -> int:
    """A loopback TCP port nobody listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http_ready(port: int, timeout_s: float, exited: Callable[[], str | None]) -> None:
    """Until Triton's ``/v2/health/ready`` on loopback ``port`` answers 200; ``ContainerError`` when ``exited`` names
    why the server is gone, or after ``timeout_s``."""
    url = f"http://127.0.0.1:{port}/v2/health/ready"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        gone = exited()
        if gone:
            raise ContainerError(gone)
        time.sleep(0.5)
    raise ContainerError(f"not ready on port {port} after {timeout_s:.0f} s")


@dataclass(frozen=True)
class Ports:
    """The host's loopback ports a container's gRPC, HTTP, metrics and probe ports are published on."""

    grpc: int
    http: int
    metrics: int
    probe: int = 0  # /livez and /readyz (the image's default --probe-port 8003); 0: not published

    @classmethod
    def free(cls) -> Ports:
        return cls(free_port(), free_port(), free_port(), free_port())

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc}"

    def publish_flags(self) -> list[str]:
        host = (self.grpc, self.http, self.metrics, self.probe)
        return [
            flag
            for pair in zip(host, CONTAINER_PORTS, strict=True)
            if pair[0]
            for flag in ("-p", f"127.0.0.1:{pair[0]}:{pair[1]}")
        ]


@dataclass
class Container:
    """One container of the image, running detached under ``name``; removed by ``remove`` (or ``with``)."""

    name: str
    ports: Ports
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def run(
        cls,
        image: str,
        name: str,
        *,
        repository: Path | None,
        ports: Ports | None = None,
        host_network: bool = False,
        extra: Sequence[str] = (),
        command: Sequence[str] = (),
    ) -> Container:
        """``podman run -d``: root filesystem read-only, /tmp a tmpfs, a sized /dev/shm, ``repository`` at /models
        read-only. Published on loopback ``ports``, or (``host_network``) on the host's own network with the
        server bound to those ports (``command`` must then name them)."""
        ports = ports or Ports.free()
        podman("rm", "--force", "--ignore", name)
        flags = [*RUN_FLAGS, "--detach", "--name", name, "--read-only", "--shm-size", SHM_SIZE]
        flags += ["--tmpfs", f"/tmp:rw,size={TMP_SIZE},mode=1777"]
        if repository is not None:
            flags += ["--volume", f"{repository.resolve()}:/models:ro"]
        flags += ["--network", "host"] if host_network else ports.publish_flags()
        podman("run", *flags, *extra, image, *command)
        return cls(name, ports)

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *_: object) -> None:
        self.remove()

    def inspect(self) -> dict[str, Any]:
        found = json.loads(podman("inspect", "--type", "container", self.name).stdout)
        return dict(found[0])

    def running(self) -> bool:
        return bool(self.inspect()["State"]["Running"])

    def exit_code(self) -> int:
        return int(self.inspect()["State"]["ExitCode"])

    def logs(self) -> tuple[str, str]:
        """What the container wrote to stdout and to stderr."""
        done = podman("logs", self.name, check=False)
        return done.stdout, done.stderr

    def wait_exit(self, timeout_s: float) -> int:
        """The exit code once the container has stopped by itself."""
        deadline = time.monotonic() + timeout_s
        while self.running():
            if time.monotonic() > deadline:
                raise ContainerError(f"{self.name} still runs after {timeout_s:.0f} s")
            time.sleep(0.2)
        return self.exit_code()

    def wait_ready(self, timeout_s: float = 300.0) -> float:
        """Seconds from ``started`` until Triton's HTTP ready endpoint answers 200 on the published port."""

        def exited() -> str | None:
            return None if self.running() else f"{self.name} exited before it was ready"

        try:
            wait_http_ready(self.ports.http, timeout_s, exited)
        except ContainerError as error:
            raise ContainerError(f"{error}: {self.logs()[1].strip()[-800:]}") from None
        return time.monotonic() - self.started

    def exec(self, *command: str) -> str:
        return podman("exec", self.name, *command).stdout

    def process_states(self) -> Counter[str]:
        """How many of the container's processes are in each state (``Z``: a zombie nobody reaped)."""
        script = "for s in /proc/[0-9]*/stat; do cut -d' ' -f3 $s 2>/dev/null; done"
        return Counter(self.exec("/bin/sh", "-c", script).split())

    def pid_of(self, executable: str) -> int:
        """The PID, inside the container, of the one process whose executable's path ends with ``executable``.

        The executable, not the command line: the shell that looks carries the name in its own arguments."""
        script = f'for p in /proc/[0-9]*; do case "$(readlink $p/exe)" in *{executable}) basename $p;; esac; done'
        found = [int(pid) for pid in self.exec("/bin/sh", "-c", script).split()]
        if len(found) != 1:
            raise ContainerError(f"{len(found)} processes in {self.name} run {executable!r}")
        return found[0]

    def host_pids(self) -> set[int]:
        """The host PIDs of every process of the container: process 1 (tini) and its descendants."""
        root = int(self.inspect()["State"]["Pid"])
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
        found = {root}
        grew = True
        while grew:
            grew = False
            for pid, parent in parents.items():
                if parent in found and pid not in found:
                    found.add(pid)
                    grew = True
        return found

    def stop(self, grace_s: int) -> float:
        """``podman stop``: SIGTERM, then SIGKILL after ``grace_s``; the seconds it took."""
        started = time.monotonic()
        podman("stop", "--time", str(grace_s), self.name, timeout_s=grace_s + 60)
        return time.monotonic() - started

    def kill(self) -> None:
        podman("kill", self.name)

    def remove(self) -> None:
        podman("rm", "--force", "--ignore", "--time", "5", self.name, check=False)
