"""``make image-check``: the image built by ``make image``, run here as a cluster would run it, and checked.

One container serves an exported repository (``lumaflow build --export DIR``) mounted read-only, with a
read-only root filesystem, a tmpfs /tmp and a sized /dev/shm, its ports published on loopback. From the host:
Triton's HTTP ready endpoint (cold start timed), the standard gRPC health service that Kubernetes' ``grpc:``
probe calls, ``lumaflow health --deep``, one real photo through every pipeline compared pixel for pixel with
``lumaflow serve`` on the host serving the same DIR, the metrics endpoint, throughput of one pipeline against
the host server in interleaved windows, a tritonserver killed inside (the supervisor restarts it; process 1
reaps the orphaned stubs: no zombie), and ``podman stop`` with requests in flight (all answered, exit 0 within
the grace period, no process of the container left). Two failures must be one clear line on stderr: no
repository mounted, and a port taken (host network: a published port taken is podman's own error).

Checks that fail are listed, not raised, so one run reports everything; the exit status is 1 if any failed.
Speed (cold start, throughput ratio) is reported, never judged here.
"""

from __future__ import annotations

import argparse
import io
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from PIL import Image

from lumaflow.client import LumaflowClient
from lumaflow.client.health import probe_mask, required_choices
from lumaflow.loadtest.image_replicas import failover
from lumaflow.loadtest.image_security import token_check
from lumaflow.loadtest.podman import Container, ContainerError, Ports, free_port, podman_unusable, wait_http_ready
from lumaflow.loadtest.region import DEFAULT_PHOTO, centre_crop
from lumaflow.loadtest.report import machine

GRACE_S = 30  # podman stop's grace period; the chart's terminationGracePeriodSeconds is longer than the drain
SERVING = 1  # grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING


@dataclass
class Report:
    """Every check with its outcome and detail, and the figures measured on the way."""

    image: str
    repository: str
    checks: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=machine)

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append({"check": name, "ok": bool(ok), "detail": detail})
        print(f"  {'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
        return bool(ok)

    def attempt(self, name: str, step: Callable[[], str]) -> bool:
        """Run ``step`` (returns its detail); an exception is that check's failure, not the run's end."""
        try:
            return self.check(name, True, step())
        except (AssertionError, ContainerError, OSError, RuntimeError, ValueError) as error:
            return self.check(name, False, f"{type(error).__name__}: {error}")

    @property
    def failed(self) -> list[str]:
        return [entry["check"] for entry in self.checks if not entry["ok"]]


def grpc_health(url: str, timeout_s: float = 5.0) -> int:
    """``grpc.health.v1.Health/Check`` for the whole server, as kubelet's gRPC probe sends it: the status number."""
    with grpc.insecure_channel(url) as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check")
        answer = check(b"", timeout=timeout_s)  # HealthCheckRequest{service: ""} encodes to no bytes
    # HealthCheckResponse{status = 1}: field 1, varint -> b"\x08\x01"; an absent field is 0 (UNKNOWN).
    return answer[1] if len(answer) >= 2 and answer[0] == 0x08 else 0


def test_photo(path: Path, side: int = 256) -> np.ndarray:
    """A real photo's centre, ``side`` square (what every pipeline gets)."""
    photo = np.asarray(Image.open(path).convert("RGB"))
    crop = centre_crop(photo, 4 * side * side / 1e6)
    top, left = (crop.shape[0] - side) // 2, (crop.shape[1] - side) // 2
    return np.ascontiguousarray(crop[top : top + side, left : left + side])


def jpeg(photo: np.ndarray, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def outputs(url: str, photo: np.ndarray) -> dict[str, np.ndarray]:
    """Every pipeline's output for square ``photo`` from the server at ``url``, decoded (the deep check's mask and
    required choices)."""
    mask = probe_mask(photo.shape[0])
    results: dict[str, np.ndarray] = {}
    with LumaflowClient(url, timeout=300) as client:
        for info in client.pipelines():
            if info.kind == "camera":
                results[info.name] = client.enhance_frame(photo, info.name)
                continue
            given_mask = mask if "MASK" in info.inputs else None
            result = client.enhance(jpeg(photo), info.name, mask=given_mask, **required_choices(info))
            results[info.name] = np.asarray(result.image)
    return results


def failure_lines(report: Report, image: str, repository: Path) -> None:
    """No repository mounted, and a port taken: each must end the container with one line on stderr."""

    def missing() -> str:
        with Container.run(image, "lumaflow-check-missing", repository=None) as container:
            code = container.wait_exit(120)
            lines = container.logs()[1].strip().splitlines()
        expected = "lumaflow serve: error: model repository /models does not exist"
        assert code == 1 and len(lines) == 1 and lines[0].startswith(expected), f"exit {code}, stderr {lines}"
        return lines[0]

    def port_taken() -> str:
        with socket.socket() as holder:
            holder.bind(("0.0.0.0", 0))
            holder.listen()
            taken = holder.getsockname()[1]
            ports = Ports(taken, free_port(), free_port())
            command = _serve_args("/models", "127.0.0.1", ports)
            with Container.run(
                image, "lumaflow-check-port", repository=repository, ports=ports, host_network=True, command=command
            ) as container:
                code = container.wait_exit(120)
                lines = container.logs()[1].strip().splitlines()
        assert code == 1 and len(lines) == 1 and f"gRPC port {taken}" in lines[0], f"exit {code}, stderr {lines}"
        return lines[0]

    report.attempt("no repository mounted: one line on stderr", missing)
    report.attempt("a port taken (host network): one line on stderr", port_taken)


def _serve_args(repository: str, host: str, ports: Ports) -> list[str]:
    """``lumaflow serve``'s arguments for ``repository`` on ``host`` and ``ports``."""
    return [
        *("--model-repository", repository, "--host", host, "--metrics-host", host),  # no --probe-port: not needed
        *("--grpc-port", str(ports.grpc), "--http-port", str(ports.http), "--metrics-port", str(ports.metrics)),
    ]


class HostServer:
    """``lumaflow serve`` on the host, on the same exported repository; stopped by its PID."""

    def __init__(self, repository: Path) -> None:
        self.ports = Ports.free()
        argv = [sys.executable, "-m", "lumaflow.cli", "serve", *_serve_args(str(repository), "127.0.0.1", self.ports)]
        # A file, not a pipe nobody reads (a full pipe would block the server); closed by stop().
        self.errors = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=self.errors, text=True)

    def wait_ready(self, timeout_s: float = 300.0) -> None:
        def exited() -> str | None:
            if self.process.poll() is None:
                return None
            self.errors.seek(0)
            return f"lumaflow serve on the host exited: {self.errors.read().strip()[-800:]}"

        wait_http_ready(self.ports.http, timeout_s, exited)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.errors.close()


def throughput(urls: dict[str, str], payload: bytes, pipeline: str, windows: int, window_s: float) -> dict[str, Any]:
    """Requests per second of ``pipeline`` at each URL, in alternating windows of two clients each."""
    rates: dict[str, list[float]] = {name: [] for name in urls}
    for index in range(windows * len(urls)):
        name = list(urls)[index % len(urls)]
        with LumaflowClient(urls[name], timeout=60) as client:
            client.enhance(payload, pipeline)  # warm: connection and the pipeline's first call
            done = [0, 0]
            deadline = time.monotonic() + window_s

            def loop(
                slot: int, client: LumaflowClient = client, deadline: float = deadline, done: list[int] = done
            ) -> None:
                while time.monotonic() < deadline:
                    client.enhance(payload, pipeline)
                    done[slot] += 1

            started = time.monotonic()
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(loop, range(2)))
            rates[name].append(sum(done) / (time.monotonic() - started))
    medians = {name: float(np.median(values)) for name, values in rates.items()}
    first, second = list(urls)
    # Each window of the second server over the first's just before it: a drift in the machine's load hits both.
    pairs = [b / a for a, b in zip(rates[first], rates[second], strict=True)]
    return {
        "pipeline": pipeline,
        "window_s": window_s,
        "rates_per_s": rates,
        "median_per_s": medians,
        f"{second}_over_{first}_pairs": [round(ratio, 3) for ratio in pairs],
        f"{second}_over_{first}": round(float(np.median(pairs)), 3),
    }


def reap_after_crash(report: Report, container: Container) -> None:
    """Kill tritonserver inside (SIGKILL): the supervisor restarts it and process 1 reaps its orphaned stubs."""

    def crash() -> str:
        pid = container.pid_of("bin/tritonserver")
        container.started = time.monotonic()
        container.exec("/bin/sh", "-c", f"kill -KILL {pid}")  # the shell's kill: the slim base has no procps
        time.sleep(3)  # the supervisor notices within a turn; Triton stops answering ready at once
        restart_s = container.wait_ready(300)
        time.sleep(2)
        states = container.process_states()
        assert states.get("Z", 0) == 0, f"zombies after the restart: {dict(states)}"
        assert container.pid_of("bin/tritonserver") != pid
        return f"ready again {restart_s:.1f} s after the kill; process states {dict(states)}"

    report.attempt("tritonserver killed inside: restarted, no zombie", crash)


def graceful_stop(report: Report, container: Container, payload: bytes, pipeline: str, in_flight: int) -> None:
    """``podman stop`` while ``in_flight`` requests run: each answered, exit 0 within the grace, nothing left."""

    def stop() -> str:
        pids = container.host_pids()
        with LumaflowClient(container.ports.grpc_url, timeout=120) as client:
            client.enhance(payload, pipeline)
            with ThreadPoolExecutor(in_flight) as pool:
                futures = [pool.submit(client.enhance, payload, pipeline) for _ in range(in_flight)]
                time.sleep(0.5)
                took = container.stop(GRACE_S)
                results = [future.result() for future in futures]
        code = container.exit_code()
        left = sorted(pid for pid in pids if Path(f"/proc/{pid}").exists())
        assert len(results) == in_flight and code == 0 and took < GRACE_S and not left, (code, took, left)
        report.figures["stop_s"] = round(took, 2)
        return f"{in_flight} in-flight {pipeline} requests answered; exit 0 after {took:.1f} s; 0 processes left"

    report.attempt("podman stop with requests in flight", stop)


def check_serving(
    report: Report, image: str, repository: Path, photo: np.ndarray, windows: int, window_s: float
) -> None:
    """The main container beside a host server on the same DIR: probes, outputs, metrics, speed, crash, stop."""
    payload = jpeg(photo)
    host: HostServer | None = None
    try:
        with Container.run(image, "lumaflow-check", repository=repository) as container:
            ready_s = container.wait_ready()
            report.figures["cold_start_to_ready_s"] = round(ready_s, 1)
            report.check("HTTP ready on the published port", True, f"{ready_s:.1f} s from podman run")
            host = HostServer(repository)  # after the cold start, which it would slow down
            url = container.ports.grpc_url
            report.attempt("gRPC health service (kubelet's grpc probe)", lambda: _serving(url))
            report.attempt("/livez and /readyz (the chart's httpGet probes)", lambda: _probes(container.ports.probe))
            report.attempt("lumaflow health --deep from the host", lambda: _deep(url))
            host.wait_ready()
            report.attempt("every pipeline: container output = host output", lambda: _same(url, host, photo))
            report.attempt("metrics scraped", lambda: _metrics(container.ports.metrics))
            speed = throughput(
                {"host": host.ports.grpc_url, "container": url}, payload, "upscale_x2_fast", windows, window_s
            )
            report.figures["throughput"] = speed
            report.check(
                "throughput measured (reported, not judged)", True, f"container/host {speed['container_over_host']}"
            )
            reap_after_crash(report, container)
            graceful_stop(report, container, jpeg(test_photo(DEFAULT_PHOTO, 512)), "upscale_x4", in_flight=4)
    finally:
        if host is not None:
            host.stop()


def _serving(url: str) -> str:
    status = grpc_health(url)
    assert status == SERVING, f"status {status}"
    return "SERVING"


def _probes(port: int) -> str:
    answers = []
    for path in ("/livez", "/readyz"):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            answers.append(f"{path} {answer.status} {answer.read().decode().strip()}")
    return "; ".join(answers)


def _deep(url: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "lumaflow.cli", "health", "--deep", "--url", url],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return f"{len(done.stdout.strip().splitlines())} lines, exit 0"


def _same(url: str, host: HostServer, photo: np.ndarray) -> str:
    inside, outside = outputs(url, photo), outputs(host.ports.grpc_url, photo)
    assert sorted(inside) == sorted(outside), (sorted(inside), sorted(outside))
    differ = [name for name in inside if not np.array_equal(inside[name], outside[name])]
    assert not differ, f"outputs differ: {differ}"
    return f"{len(inside)} pipelines identical"


def _metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    lines = [
        line for line in text.splitlines() if line.startswith('nv_inference_request_success{model="upscale_x2_fast"')
    ]
    assert lines and float(lines[0].rsplit(" ", 1)[1]) > 0, lines
    return lines[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lumaflow.loadtest.image_check", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--image", required=True, help="the image make image built (localhost/lumaflow:VERSION)")
    parser.add_argument("--repository", type=Path, required=True, help="a repository from lumaflow build --export")
    parser.add_argument("--replica-repository", type=Path, help="one pipeline's export (--pipelines upscale_x2_fast)")
    parser.add_argument("--photo", type=Path, default=DEFAULT_PHOTO)
    parser.add_argument("--windows", type=int, default=6, help="throughput windows per server, interleaved")
    parser.add_argument("--window-s", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=Path("bench-results/image-check.json"))
    args = parser.parse_args(argv)
    reason = podman_unusable()
    if reason:
        print(f"image-check: {reason}", file=sys.stderr)
        return 2
    report = Report(args.image, str(args.repository))
    print(f"image-check of {args.image} on {args.repository}:", flush=True)
    failure_lines(report, args.image, args.repository)
    check_serving(report, args.image, args.repository, test_photo(args.photo), args.windows, args.window_s)
    small = args.replica_repository or args.repository  # upscale_x2_fast alone starts in seconds
    token_check(report, args.image, small, test_photo(args.photo, 64))
    if args.replica_repository is not None:
        failover(report, args.image, args.replica_repository, test_photo(args.photo, 64))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(asdict(report), indent=1) + "\n")
    print(f"{len(report.checks) - len(report.failed)}/{len(report.checks)} checks passed; {args.out}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
