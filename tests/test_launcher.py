"""The tritonserver wrapper without starting it: argv, environment, stubs, ports."""

from __future__ import annotations

import socket
import sysconfig
from pathlib import Path

import pytest

from lumaflow.server.distribution import ServeError, TritonDistribution
from lumaflow.server.triton import Endpoints, ServerTLS, access_argv, check_ports_free, server_argv, server_env


def test_argv_is_exactly_what_triton_needs() -> None:
    argv = server_argv(
        Path("/opt/triton/bin/tritonserver"),
        model_repository=Path("/srv/models"),
        backend_directory=Path("/tmp/w/backends"),
        endpoints=Endpoints(host="0.0.0.0", grpc_port=9001, http_port=9000, metrics_port=9002),
        shm_prefix="lumaflow42_x_",
        exit_timeout_s=30,
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


def test_endpoints_default_to_loopback_and_wildcards_are_dialled_on_loopback() -> None:
    assert Endpoints().host == "127.0.0.1"
    assert Endpoints().grpc_url == "127.0.0.1:8001"
    assert Endpoints(host="0.0.0.0").grpc_url == "127.0.0.1:8001"
    assert Endpoints(host="0.0.0.0").bind_host("metrics") == "127.0.0.1"
    assert Endpoints(host="0.0.0.0", http_host="127.0.0.1").http_url == "http://127.0.0.1:8000"


def test_env_puts_our_interpreter_first_and_finds_libpython() -> None:
    distribution = TritonDistribution.locate()
    env = server_env({"PATH": "/usr/bin", "LD_LIBRARY_PATH": "/opt/lib"}, distribution, python="/venv/bin/python")
    assert env["PATH"] == "/venv/bin:/usr/bin"
    parts = env["LD_LIBRARY_PATH"].split(":")
    assert parts[-1] == "/opt/lib"
    assert sysconfig.get_config_var("LIBDIR") in parts


def test_stub_for_an_unshipped_python_is_one_clear_line() -> None:
    distribution = TritonDistribution.locate()
    assert distribution.stub_for((3, 11)).is_file()
    with pytest.raises(ServeError) as caught:
        distribution.stub_for((3, 99))
    message = str(caught.value)
    assert "no python-backend stub for Python 3.99" in message and "3.11" in message
    assert "\n" not in message


def test_prepared_backend_has_the_matching_stub(tmp_path: Path) -> None:
    distribution = TritonDistribution.locate()
    backends = distribution.prepare_backends(tmp_path / "backends", (3, 11))
    python_dir = backends / "python"
    assert (python_dir / "libtriton_python.so").is_file()
    assert (python_dir / "triton_python_backend_stub").read_bytes() == distribution.stub_for((3, 11)).read_bytes()


def test_a_taken_port_is_reported_with_the_flag_to_change_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServeError, match=f"HTTP port {port} on 127.0.0.1 is not available.*--http-port"):
            check_ports_free(Endpoints(grpc_port=0, http_port=port, metrics_port=0))
