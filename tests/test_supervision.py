"""Dead workers: deep health sees a killed stub that Triton still calls ready; `lumaflow serve` repairs it.

Measured with tritonserver 2.51: a killed python stub is not restarted, its model stays READY, and
every request to it fails INTERNAL ("Stub process ... is not healthy"). These tests kill real
processes by PID and count every request a client sent.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import tritonclient.grpc as grpcclient

from lumaflow.cli import main
from lumaflow.client import LumaflowClient, LumaflowError, Overloaded, RetryPolicy, Unavailable
from lumaflow.client.health import probe_pipeline
from lumaflow.client.protocol import PipelineInfo
from lumaflow.server.distribution import ServeError
from lumaflow.server.endpoints import free_endpoints
from lumaflow.server.options import ServerOptions
from lumaflow.server.process import TritonServer, running_server
from lumaflow.server.procfs import child_pids, model_stubs, stubs_with_prefix
from lumaflow.server.supervisor import Supervisor, broken_models
from tests.fixtures import FAST_PIPELINE, SERVE_TOKEN, Serve, astronaut, encode, small_repository

DECODE = "upscale_x2_fast_decode"
PATIENT = RetryPolicy(attempts=60, backoff_s=0.2, max_backoff_s=1.0)


def stub_of(server_pid: int, model: str) -> int:
    stubs = model_stubs(server_pid, model)
    assert stubs, f"no stub runs {model}"
    return stubs[0]


@pytest.mark.unit
def test_stub_names_are_read_from_tritons_message() -> None:
    message = "in ensemble 'upscale_x2_fast', Stub process 'upscale_x2_fast_decode_0_0' is not healthy."
    assert broken_models(message) == [DECODE]
    assert broken_models("Stub process 'a.b-c_1_12' is not healthy") == ["a.b-c"]
    assert broken_models("queue full") == []


class _Refusing:
    """Stands in for a client whose server answers every probe with ``error``."""

    def __init__(self, error: LumaflowError) -> None:
        self.error = error

    def enhance(self, *_: object, **__: object) -> None:
        raise self.error


@pytest.mark.unit
@pytest.mark.parametrize(("error", "alive"), [(Overloaded("queue full"), True), (Unavailable("stub died"), False)])
def test_a_busy_pipeline_is_alive_and_a_broken_one_is_not(error: LumaflowError, alive: bool) -> None:
    info = PipelineInfo(FAST_PIPELINE, "photo", "", {}, {}, ("IMAGE", "OPTIONS"))
    probe = probe_pipeline(_Refusing(error), info, timeout=5.0)  # type: ignore[arg-type]
    assert probe.ok is alive and type(error).__name__ in probe.error


class _ProbedServer:
    """What ``Supervisor`` reads of a server before it probes: its options and stub processes."""

    options = ServerOptions(model_repository=Path("unused"), deep_check_interval_s=30.0)

    def stub_models(self) -> dict[int, str]:
        return {}


@pytest.mark.unit
@pytest.mark.parametrize(("second", "restarted"), [({}, False), ({"denoise": "DeadlineExceeded: again"}, True)])
def test_a_probe_that_only_ran_out_of_time_is_asked_again_before_a_restart(
    second: dict[str, str], restarted: bool
) -> None:
    """A 12 MP photo holds both cores past a probe's 60 s: the server is busy, and restarting it would lose the
    photo. A probe that times out again with the patient deadline is a hung stub: restart."""
    supervisor = Supervisor(_ProbedServer(), say=lambda _: None)  # type: ignore[arg-type]
    answers = iter([{"denoise": "DeadlineExceeded: Deadline Exceeded"}, second])
    timeouts: list[float] = []

    def failing(pipelines: list[str] | None = None, timeout: float = 60.0) -> dict[str, str]:
        timeouts.append(timeout)
        return next(answers)

    restarts: list[str] = []
    supervisor._failing_pipelines = failing  # type: ignore[method-assign]
    supervisor.restart = restarts.append  # type: ignore[method-assign]
    supervisor.deep_check()
    assert timeouts == [60.0, 600.0] and bool(restarts) is restarted


@pytest.mark.served
def test_deep_health_finds_a_killed_stub_that_ready_misses_and_the_supervisor_reloads_it(
    model_repository: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_server(small_repository(model_repository, tmp_path / "r"), deep_check_interval_s=0.0) as server:
        url = server.endpoints.grpc_url
        assert main(["health", "--deep", "--url", url]) == 0
        os.kill(stub_of(server.pid, DECODE), signal.SIGKILL)
        time.sleep(0.5)
        with grpcclient.InferenceServerClient(url) as plain:
            assert plain.is_server_ready() and plain.is_model_ready(DECODE)  # Triton does not notice
        capsys.readouterr()
        assert main(["health", "--deep", "--url", url]) == 1
        report = capsys.readouterr().out
        assert f"{FAST_PIPELINE}" in report and "FAILED" in report and "is not healthy" in report
        # The stub is gone before the supervisor starts: only its probe requests can find the damage.
        supervisor = Supervisor(server, say=lambda _: None)
        supervisor.deep_check()
        assert [(repair.what, repair.target) for repair in supervisor.repairs] == [("reload", DECODE)]
        assert main(["health", "--deep", "--url", url]) == 0


@pytest.fixture()
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(SERVE_TOKEN)
    path.chmod(0o600)
    return path


def _traffic(url: str, stop: threading.Event, outcomes: list[object]) -> None:
    payload = encode(astronaut()[:40, :56])
    with LumaflowClient(url, token=SERVE_TOKEN, retry=PATIENT, timeout=180) as client:
        while not stop.is_set():
            try:
                outcomes.append(client.enhance(payload, FAST_PIPELINE).image.size)
            except LumaflowError as error:
                outcomes.append(error)


@pytest.mark.served
def test_serve_reloads_a_killed_stub_restarts_a_killed_server_and_loses_nothing(
    model_repository: Path, tmp_path: Path, token_file: Path
) -> None:
    # The process watch alone (no probe requests): what this test times. One restart allowed.
    serve, url = Serve.small(model_repository, tmp_path, token_file, "--deep-check-interval=0", "--max-restarts=1")
    stop = threading.Event()
    try:
        serve.wait_for("serving gRPC")
        outcomes: list[object] = []
        senders = [threading.Thread(target=_traffic, args=(url, stop, outcomes), daemon=True) for _ in range(2)]
        for sender in senders:
            sender.start()
        time.sleep(2)
        killed = time.monotonic()
        os.kill(stub_of(serve.triton_pid(), DECODE), signal.SIGKILL)
        repaired = serve.wait_for(f"reload {DECODE}", timeout_s=60)
        assert repaired - killed < 10
        print(f"\nstub killed -> reload logged after {repaired - killed:.1f} s")
        time.sleep(2)
        before_restart = len(outcomes)
        first = serve.triton_pid()
        killed_server = time.monotonic()
        os.kill(first, signal.SIGKILL)
        restarted = serve.wait_for("restart tritonserver", timeout_s=240)
        print(f"tritonserver killed -> serving again after {restarted - killed_server:.1f} s")
        assert serve.triton_pid() != first
        time.sleep(3)
        stop.set()
        for sender in senders:
            sender.join(timeout=200)
        failures = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
        assert not failures, failures[:3]
        assert len(outcomes) > before_restart > 5 and set(outcomes) == {(112, 80)}
        print(f"{len(outcomes)} requests, all succeeded (with the client's retries)")
        # A second server crash within the hour is one more than --max-restarts=1 allows: serve gives up.
        os.kill(serve.triton_pid(), signal.SIGKILL)
        assert serve.process.wait(timeout=120) == 1
        serve.wait_for("giving up", timeout_s=10)
    finally:
        stop.set()
        if serve.process.poll() is None:
            serve.process.send_signal(signal.SIGINT)
            serve.process.wait(timeout=120)


@pytest.mark.served
def test_a_model_whose_config_cannot_be_read_fails_the_start_at_once(model_repository: Path, tmp_path: Path) -> None:
    """Catches: the start waiting out its whole ready timeout ("models still loading after 300 s", seen once)
    when Triton lists a model it could not read, with no state and no error of its own in the index."""
    repository = small_repository(model_repository, tmp_path / "r")
    config = repository / "espcn_x2" / "config.pbtxt"
    config.write_text(config.read_text().replace('string_value: "2"', 'string_value: ""2"', 1))
    started = time.monotonic()
    with (
        pytest.raises(ServeError, match=r"model 'espcn_x2' failed to load: Poll failed .*Error parsing text-format"),
        running_server(repository, ready_timeout_s=120.0),
    ):
        pass
    assert time.monotonic() - started < 60  # refused once tritonserver is up, not when the timeout runs out


@pytest.mark.served
def test_a_model_that_fails_to_load_stops_serving_unless_partial_is_allowed(
    model_repository: Path, tmp_path: Path
) -> None:
    repository = small_repository(model_repository, tmp_path / "r")
    broken = repository / "broken" / "1"
    broken.mkdir(parents=True)
    (repository / "broken" / "config.pbtxt").write_text('name: "broken"\nbackend: "python"\nmax_batch_size: 0\n')
    (broken / "model.py").write_text(
        "class TritonPythonModel:\n"
        "    def initialize(self, args):\n"
        "        raise RuntimeError('its weights are missing')\n"
    )
    refused = pytest.raises(ServeError, match=r"model 'broken' failed to load: .*weights are missing")
    server = TritonServer(options=ServerOptions(repository, endpoints=free_endpoints()))
    try:
        server.start()
        with refused:
            server.wait_until_ready()
    finally:
        server.stop()
    # Triton exits on its own once a model failed to load; the stubs it had started must not outlive it.
    assert stubs_with_prefix(server.shm_prefix) == []
    server.cleanup()
    with running_server(repository, allow_partial=True) as server:
        assert [model.name for model in server.missing] == ["broken"]
        running = stubs_with_prefix(server.shm_prefix)  # what the stop above looked for, found while it lives
        assert running and set(running) <= set(child_pids(server.pid))
        assert server.entry_points == [FAST_PIPELINE]
        with LumaflowClient(server.endpoints.grpc_url) as client:
            assert client.health()[server.endpoints.grpc_url]["ready"]  # ready for what it serves
            assert client.enhance(astronaut()[:32, :32], FAST_PIPELINE).image.size == (64, 64)
