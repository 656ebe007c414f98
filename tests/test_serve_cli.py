"""`lumaflow serve` as a user runs it: ready line, graceful SIGTERM under load, one-line failures."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from lumaflow.ensemble.pipelines import CAMERA_PIPELINES, PIPELINES
from lumaflow.server.endpoints import Endpoints, free_endpoints
from lumaflow.server.procfs import child_pids, pid_alive
from tests.fixtures import astronaut, decode, encode, enhance

# The console script a user runs, from the same environment as the tests.
LUMAFLOW = [str(Path(sys.executable).parent / "lumaflow")]


def serve_argv(endpoints: Endpoints, *extra: str) -> list[str]:
    return [
        *LUMAFLOW,
        "serve",
        f"--grpc-port={endpoints.grpc_port}",
        f"--http-port={endpoints.http_port}",
        f"--metrics-port={endpoints.metrics_port}",
        *extra,
    ]


def wait_for_line(process: subprocess.Popen[str], needle: str, timeout_s: float = 240) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"no line with {needle!r} in {seen!r}")


@pytest.mark.served
def test_sigterm_under_load_finishes_requests_and_leaves_no_stubs(model_repository: Path) -> None:
    endpoints = free_endpoints()
    process = subprocess.Popen(serve_argv(endpoints), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        ready = wait_for_line(process, "serving gRPC on")
        assert f"127.0.0.1:{endpoints.grpc_port}" in ready
        assert ready.rstrip().endswith(f"pipelines: {', '.join(sorted([*PIPELINES, *CAMERA_PIPELINES]))}")
        (triton_pid,) = child_pids(process.pid)
        stubs = child_pids(triton_pid)
        assert len(stubs) >= 3  # decode, espcn_x2, encode at least

        payload = encode(astronaut()[:160, :160])
        outcomes: list[tuple[float, str]] = []  # (when the request was sent, how it ended)
        started = threading.Barrier(9)

        def send() -> None:
            with grpcclient.InferenceServerClient(endpoints.grpc_url) as client:
                started.wait()
                for _ in range(200):
                    sent = time.monotonic()
                    try:
                        enhanced, _ = enhance(client, payload, timeout_s=60)
                        assert decode(enhanced).shape == (320, 320, 3)
                        outcomes.append((sent, "ok"))
                    except InferenceServerException as error:
                        outcomes.append((sent, f"error:{error.status()}"))
                        return

        senders = [threading.Thread(target=send) for _ in range(8)]
        for sender in senders:
            sender.start()
        started.wait()
        time.sleep(2.0)
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
        elapsed = time.monotonic() - stopped_at
        for sender in senders:
            sender.join(timeout=30)
            assert not sender.is_alive(), "a client hung instead of completing or failing"
        assert code == 0, process.stdout.read() if process.stdout else ""
        assert elapsed < 30
        # Nothing accepted is lost: whatever was sent well before the signal completed.
        accepted = [outcome for sent, outcome in outcomes if sent < stopped_at - 0.5]
        assert len(accepted) >= 8 and set(accepted) == {"ok"}, outcomes
        assert all(outcome == "ok" or outcome.startswith("error:") for _, outcome in outcomes)
        assert not pid_alive(triton_pid)
        assert [pid for pid in stubs if pid_alive(pid)] == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.unit
def test_port_in_use_fails_with_one_line() -> None:
    endpoints = free_endpoints()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", endpoints.grpc_port))
        taken.listen()
        result = subprocess.run(serve_argv(endpoints), capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"gRPC port {endpoints.grpc_port} on 127.0.0.1 is not available" in lines[0]
    assert "--grpc-port" in lines[0]


BROKEN_MODEL = """
class TritonPythonModel:
    def initialize(self, args):
        raise ValueError("weights file is unreadable on purpose")

    def execute(self, requests):
        return []
"""

BROKEN_CONFIG = """
name: "broken"
backend: "python"
max_batch_size: 4
input { name: "X" data_type: TYPE_FP32 dims: [ 1 ] }
output { name: "Y" data_type: TYPE_FP32 dims: [ 1 ] }
instance_group { kind: KIND_CPU count: 1 }
"""


@pytest.mark.served
def test_a_model_that_fails_to_load_is_named_with_its_reason_and_its_log_is_kept(tmp_path: Path) -> None:
    repository = tmp_path / "repository"
    (repository / "broken" / "1").mkdir(parents=True)
    (repository / "broken" / "config.pbtxt").write_text(BROKEN_CONFIG)
    (repository / "broken" / "1" / "model.py").write_text(BROKEN_MODEL)
    result = subprocess.run(
        serve_argv(free_endpoints(), f"--model-repository={repository}"),
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "LUMAFLOW_LOG_DIR": str(tmp_path / "logs")},
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "model 'broken' failed to load" in lines[0]
    assert "weights file is unreadable on purpose" in lines[0]
    assert result.stdout.strip() == ""
    # The temporary workdir is gone; the log the line points at is not.
    (kept,) = (tmp_path / "logs").iterdir()
    assert lines[0].endswith(f"(log: {kept})")
    assert "weights file is unreadable on purpose" in kept.read_text()


@pytest.mark.unit
def test_missing_repository_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        serve_argv(free_endpoints(), f"--model-repository={tmp_path / 'nowhere'}"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "does not exist" in result.stderr
    assert os.path.basename(str(tmp_path / "nowhere")) in result.stderr
