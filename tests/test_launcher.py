"""The tritonserver wrapper: argv, environment, stubs, ports, options, and what a failed start reports and keeps."""

from __future__ import annotations

import dataclasses
import socket
import sysconfig
from pathlib import Path

import pytest

from lumaflow.cli import parser
from lumaflow.server.argv import ServerTLS, access_argv, server_argv, server_env
from lumaflow.server.distribution import ServeError, TritonDistribution
from lumaflow.server.endpoints import Endpoints, check_ports_free, free_endpoints
from lumaflow.server.options import ServerOptions, from_args
from lumaflow.server.process import KEPT_LOGS, LOG_DIR_VARIABLE, TritonServer
from lumaflow.server.triton_log import error_line, exit_reason, unread_reason


@pytest.mark.unit
def test_argv_is_exactly_what_triton_needs() -> None:
    options = ServerOptions(
        Path("/srv/models"), endpoints=Endpoints(host="0.0.0.0", grpc_port=9001, http_port=9000, metrics_port=9002)
    )
    argv = server_argv(
        options,
        binary=Path("/opt/triton/bin/tritonserver"),
        backend_directory=Path("/tmp/w/backends"),
        shm_prefix="lumaflow42_x_",
    )
    assert argv == [
        "/opt/triton/bin/tritonserver",
        "--model-repository=/srv/models",
        "--backend-directory=/tmp/w/backends",
        "--grpc-address=0.0.0.0",
        "--grpc-port=9001",
        "--http-address=0.0.0.0",
        "--http-port=9000",
        "--metrics-address=127.0.0.1",  # Triton cannot guard the metrics port: loopback unless asked
        "--metrics-port=9002",
        "--allow-gpu-metrics=false",
        "--metrics-config=summary_latencies=true",
        "--model-control-mode=explicit",
        "--load-model=*",
        "--exit-on-error=false",
        "--strict-readiness=true",
        "--exit-timeout-secs=30",
        "--backend-config=python,shm-region-prefix-name=lumaflow42_x_",
        "--backend-config=python,shm-default-byte-size=16777216",
        "--backend-config=python,shm-growth-byte-size=16777216",
        "--log-verbose=0",
        "--rate-limit=execution_count",
        "--rate-limit-resource=photo_compute:1",
    ]


@pytest.mark.unit
def test_the_token_guards_every_protocol_but_health_and_only_the_supervisor_loads_models(tmp_path: Path) -> None:
    tls = ServerTLS(tmp_path / "cert.pem", tmp_path / "key.pem")
    flags = access_argv("client-secret", "admin-secret", tls)
    client_protocols = "inference,metadata,model-config,statistics,shared-memory,trace,logging"
    assert flags == [
        f"--grpc-restricted-protocol={client_protocols}:lumaflow-token=client-secret",
        f"--http-restricted-api={client_protocols}:lumaflow-token=client-secret",
        "--grpc-restricted-protocol=model-repository:lumaflow-admin=admin-secret",
        "--http-restricted-api=model-repository:lumaflow-admin=admin-secret",
        "--grpc-use-ssl=true",
        f"--grpc-server-cert={tmp_path / 'cert.pem'}",
        f"--grpc-server-key={tmp_path / 'key.pem'}",
    ]
    assert access_argv(None, None, None) == []
    assert "health" not in " ".join(flags)


@pytest.mark.unit
def test_endpoints_default_to_loopback_and_wildcards_are_dialled_on_loopback() -> None:
    assert Endpoints().host == "127.0.0.1"
    assert Endpoints().grpc_url == "127.0.0.1:8001"
    assert Endpoints(host="0.0.0.0").grpc_url == "127.0.0.1:8001"
    assert Endpoints(host="0.0.0.0").bind_host("metrics") == "127.0.0.1"
    assert Endpoints(host="0.0.0.0", http_host="127.0.0.1").http_url == "http://127.0.0.1:8000"


@pytest.mark.unit
def test_env_puts_our_interpreter_first_and_finds_libpython() -> None:
    distribution = TritonDistribution.locate()
    env = server_env({"PATH": "/usr/bin", "LD_LIBRARY_PATH": "/opt/lib"}, distribution, python="/venv/bin/python")
    assert env["PATH"] == "/venv/bin:/usr/bin"
    parts = env["LD_LIBRARY_PATH"].split(":")
    assert parts[-1] == "/opt/lib"
    assert sysconfig.get_config_var("LIBDIR") in parts


@pytest.mark.unit
def test_stub_for_an_unshipped_python_is_one_clear_line() -> None:
    distribution = TritonDistribution.locate()
    assert distribution.stub_for((3, 11)).is_file()
    with pytest.raises(ServeError) as caught:
        distribution.stub_for((3, 99))
    message = str(caught.value)
    assert "no python-backend stub for Python 3.99" in message and "3.11" in message
    assert "\n" not in message


@pytest.mark.unit
def test_prepared_backend_has_the_matching_stub(tmp_path: Path) -> None:
    distribution = TritonDistribution.locate()
    backends = distribution.prepare_backends(tmp_path / "backends", (3, 11))
    python_dir = backends / "python"
    assert (python_dir / "libtriton_python.so").is_file()
    assert (python_dir / "triton_python_backend_stub").read_bytes() == distribution.stub_for((3, 11)).read_bytes()


@pytest.mark.unit
def test_a_taken_port_is_reported_with_the_flag_to_change_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServeError, match=f"HTTP port {port} on 127.0.0.1 is not available.*--http-port"):
            check_ports_free(Endpoints(grpc_port=0, http_port=port, metrics_port=0))


# --- a failed start: Triton's own error line, never a warning; its log kept where the message points -----------

PINNED = (
    'W1203 20:26:06.508911 11004 pinned_memory_manager.cc:273] "Unable to allocate pinned system memory, pinned '
    'memory pool will not be available: CUDA driver version is insufficient for CUDA runtime version"'
)
# Printed by tritonserver 2.51 on every start without a CUDA driver (captured on this machine).
START = f"""{PINNED}
I1203 20:26:06.508997 11004 cuda_memory_manager.cc:117] "CUDA memory pool disabled"
E1203 20:26:06.509047 11004 server.cc:241] "CudaDriverHelper has not been initialized."
I1203 20:26:06.509165 11004 metrics.cc:770] "Collecting CPU metrics"
E1203 20:38:45.907053 21717 ensemble_scheduler.cc:1468] "unable to create stream for camera_x1: CUDA driver \
version is insufficient for CUDA runtime version"
I1203 20:26:06.509453 11004 tritonserver.cc:2598]
+----------------------------------+------------------------------------------+
| Option                           | Value                                    |
+----------------------------------+------------------------------------------+
| server_version                   | 2.51.0                                   |
+----------------------------------+------------------------------------------+
"""
PORT_TAKEN = (
    START + 'I1203 20:24:41.806229 10148 grpc_server.cc:2558] "Started GRPCInferenceService at 127.0.0.1:56037"\n'
    'I1203 20:24:41.806459 10148 http_server.cc:4713] "Started HTTPService at 127.0.0.1:57403"\n'
    "E1203 20:24:41.848940 10148 main.cc:257] \"failed to start HTTP service: Unavailable - Socket '127.0.0.1:57403' "
    'already in use "\n'
)
NO_REPOSITORY = (
    START + 'I1203 20:26:06.509513 11004 server.cc:302] "No server context available. Exiting immediately."\n'
    "error: creating server: Internal - failed to stat file /nonexistent/dir\n"
)
SIGNAL = (
    START + 'I1203 20:26:07.583800 11007 http_server.cc:362] "Started Metrics Service at 127.0.0.1:53901"\n'
    "Signal (6) received.\n"
    " 0# 0x000055B68835652D in /opt/tritonserver/bin/tritonserver\n"
    " 1# 0x00007FA71765A050 in /lib/x86_64-linux-gnu/libc.so.6\n"
)
MODEL_FAILED = (
    START + "E1203 20:30:01.000001 11100 model_lifecycle.cc:642] \"failed to load 'broken' version 1: Internal: "
    'RuntimeError: its weights are missing\\n\\nAt:\\n  /models/broken/1/model.py(3): initialize\\n"\n'
    'W1203 20:30:01.100000 11100 pinned_memory_manager.cc:99] "a later warning"\n'
)
TERMINATE = (
    START + "terminate called after throwing an instance of 'std::system_error'\n"
    "  what():  Resource temporarily unavailable\n"
)


UNREADABLE_CONFIG = (
    START + "[libprotobuf ERROR /tmp/tritonbuild/grpc-repo/src/google/protobuf/text_format.cc:337] Error parsing "
    "text-format inference.ModelConfig: 57:21: Expected identifier, got: 2\n"
    "E1207 10:12:18.178881 4879 model_repository_manager.cc:1460] \"Poll failed for model directory 'espcn_x2': "
    'failed to read text proto from /models/espcn_x2/config.pbtxt"\n'
)


@pytest.mark.unit
def test_a_model_triton_could_not_read_is_explained_from_its_log() -> None:
    assert unread_reason(UNREADABLE_CONFIG, "espcn_x2") == (
        "Poll failed for model directory 'espcn_x2': failed to read text proto from /models/espcn_x2/config.pbtxt"
        " (Error parsing text-format inference.ModelConfig: 57:21: Expected identifier, got: 2)"
    )
    assert "does not say why" in unread_reason(UNREADABLE_CONFIG, "ffdnet")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("log", "expected"),
    [
        (PORT_TAKEN, "failed to start HTTP service: Unavailable - Socket '127.0.0.1:57403' already in use"),
        (NO_REPOSITORY, "error: creating server: Internal - failed to stat file /nonexistent/dir"),
        (SIGNAL, "Signal (6) received."),
        (MODEL_FAILED, "failed to load 'broken' version 1: Internal: RuntimeError: its weights are missing"),
        (TERMINATE, "terminate called after throwing an instance of 'std::system_error' what():  Resource temporarily"),
        (
            "/opt/bin/tritonserver: unrecognized option '--bogus=1'\nUsage: tritonserver [options]\n  --help\n",
            "/opt/bin/tritonserver: unrecognized option '--bogus=1'",
        ),
        (START, None),  # a warning and the driver's harmless E line are never the reason
        (START + PINNED + "\n", None),
        ("", None),
    ],
)
def test_the_first_error_line_is_tritons_own_and_never_a_warning(log: str, expected: str | None) -> None:
    found = error_line(log)
    if expected is None:
        assert found is None
    else:
        assert found is not None and found.startswith(expected), found
        assert "\n" not in found and "pinned" not in found and "CudaDriverHelper" not in found
        assert "unable to create stream" not in found


@pytest.mark.unit
def test_an_abort_after_the_pinned_memory_warning_names_the_signal_and_the_log() -> None:
    log = Path("/var/log/tritonserver-1.log")
    # The CI failure of test_response_cache: the log's last line is the pinned-memory warning, then SIGABRT.
    assert exit_reason(-6, START + PINNED + "\n", log) == (
        "tritonserver was killed by SIGABRT (-6) and logged no error line (log: /var/log/tritonserver-1.log)"
    )
    assert exit_reason(-6, SIGNAL, log) == (
        "tritonserver was killed by SIGABRT (-6): Signal (6) received. (log: /var/log/tritonserver-1.log)"
    )
    assert exit_reason(1, PORT_TAKEN, log).startswith("tritonserver exited (1): failed to start HTTP service: ")
    assert (
        exit_reason(3, "", log) == "tritonserver exited (3) and logged no error line (log: /var/log/tritonserver-1.log)"
    )


def aborting_distribution(root: Path) -> TritonDistribution:
    """A "tritonserver" that logs the pinned-memory warning and aborts, as the CI run's did."""
    binary = root / "bin" / "tritonserver"
    binary.parent.mkdir(parents=True)
    binary.write_text(f"#!/bin/sh\necho '{PINNED}'\nkill -ABRT $$\n")
    binary.chmod(0o755)
    return TritonDistribution(root, bundled=False)


@pytest.mark.served
def test_a_failed_start_keeps_its_log_where_the_message_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOG_DIR_VARIABLE, str(tmp_path / "logs"))
    (tmp_path / "repository").mkdir()
    options = ServerOptions(tmp_path / "repository", endpoints=free_endpoints())
    server = TritonServer(options=options, distribution=aborting_distribution(tmp_path / "triton"))
    server.start()
    with pytest.raises(ServeError) as caught:
        server.wait_until_ready(30)
    server.stop()
    server.cleanup()
    message = str(caught.value)
    assert message.startswith("tritonserver was killed by SIGABRT (-6) and logged no error line (log: ")
    assert "\n" not in message and "pinned" not in message
    kept = Path(message.rsplit("(log: ", 1)[1].rstrip(")"))
    assert kept == server.kept_log and kept.parent == tmp_path / "logs"
    assert kept.name.startswith("tritonserver-") and kept.name.endswith(f"-{server.pid}.log")
    assert kept.read_text().strip() == PINNED  # still there after cleanup, which removed the workdir
    assert not server.workdir.exists()


class _AlsoMissing(TritonServer):
    """The real binary, given a second repository that does not exist and told to exit on that error."""

    def argv(self) -> list[str]:
        return [*super().argv(), "--exit-on-error=true", "--model-repository=/nonexistent/lumaflow"]


@pytest.mark.served
def test_a_real_failed_start_says_tritons_error_not_its_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LOG_DIR_VARIABLE, str(tmp_path / "logs"))
    (tmp_path / "repository").mkdir()
    server = _AlsoMissing(options=ServerOptions(tmp_path / "repository", endpoints=free_endpoints()))
    try:
        server.start()
        with pytest.raises(ServeError) as caught:
            server.wait_until_ready(60)
    finally:
        server.stop()
        server.cleanup()
    message = str(caught.value)
    assert message.startswith("tritonserver exited (1): error: creating server: Internal - failed to stat file ")
    assert "/nonexistent/lumaflow" in message and f"(log: {tmp_path / 'logs'}" in message
    assert server.kept_log is not None and "failed to stat file" in server.kept_log.read_text()


@pytest.mark.unit
def test_kept_logs_are_pruned_to_the_newest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOG_DIR_VARIABLE, str(tmp_path))
    for number in range(KEPT_LOGS + 5):
        (tmp_path / f"tritonserver-20240101-0000{number:02d}-1.log").write_text("old")
    server = TritonServer(options=ServerOptions(tmp_path))
    kept = server.keep_log()
    server.cleanup()
    logs = sorted(tmp_path.glob("tritonserver-*.log"))
    assert len(logs) == KEPT_LOGS and kept in logs and logs[0].name == "tritonserver-20240101-000006-1.log"


# --- the options: read once from the command line, frozen, the token never shown ---------------------------------


@pytest.mark.unit
def test_serve_options_are_read_once_from_the_command_line(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("a-token-long-enough-0123456789\n")
    token.chmod(0o600)
    argv = ["serve", f"--model-repository={tmp_path}", "--grpc-port=9101", "--http-port=9100", "--metrics-port=9102"]
    argv += [f"--auth-token-file={token}", "--exit-timeout=7", "--max-restarts=-1", "--deep-check-interval=0"]
    warnings: list[str] = []
    options = from_args(parser().parse_args(argv), warn=warnings.append)
    assert options == ServerOptions(
        model_repository=tmp_path,
        endpoints=Endpoints(grpc_port=9101, http_port=9100, metrics_port=9102),
        exit_timeout_s=7,
        token="a-token-long-enough-0123456789",
        deep_check_interval_s=0.0,
        max_restarts=-1,
    )
    assert warnings == [] and "0123456789" not in repr(options)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.max_restarts = 3  # type: ignore[misc]
    remote = from_args(parser().parse_args(["serve", "--model-repository=s3://bucket/models"]), warn=warnings.append)
    assert remote.model_repository == "s3://bucket/models" and remote.remote
    with pytest.raises(ServeError, match=r"model repository .*nowhere does not exist \(see --model-repository\)"):
        from_args(parser().parse_args(["serve", f"--model-repository={tmp_path / 'nowhere'}"]), warn=warnings.append)


@pytest.mark.unit
def test_with_tls_http_stays_on_loopback_unless_asked(tmp_path: Path) -> None:
    from tests.fixtures import make_certificates

    certificates = make_certificates(tmp_path)
    argv = ["serve", f"--model-repository={tmp_path}", "--host=0.0.0.0"]
    argv += [f"--tls-cert={certificates.cert}", f"--tls-key={certificates.key}"]
    options = from_args(parser().parse_args(argv), warn=print)
    assert options.tls == ServerTLS(certificates.cert.resolve(), certificates.key.resolve())
    assert options.endpoints.bind_host("HTTP") == "127.0.0.1" and options.endpoints.bind_host("gRPC") == "0.0.0.0"
    asked = from_args(parser().parse_args([*argv, "--http-host=0.0.0.0"]), warn=print)
    assert asked.endpoints.bind_host("HTTP") == "0.0.0.0"
