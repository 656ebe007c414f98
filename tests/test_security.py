"""A server started with a token and TLS: who may call what, over gRPC and HTTP (docs/SECURITY.md)."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from lumaflow.client import LumaflowClient, RetryPolicy, TLSConfig, Unauthenticated, Unavailable
from lumaflow.client.policy import AUTH_HEADER
from lumaflow.server.access import read_tls, read_token
from lumaflow.server.argv import ADMIN_KEY, TOKEN_KEY
from lumaflow.server.distribution import ServeError
from lumaflow.server.process import TritonServer, running_server
from tests.fixtures import CertificateFiles, astronaut, encode, make_certificates, small_repository

TOKEN = "a-long-enough-test-token-0123456789"
PIPELINE = "upscale_x2_fast"
GRPC_TOKEN = AUTH_HEADER  # gRPC clients send Triton's prefix before the key: triton-grpc-protocol-lumaflow-token


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def locked(model_repository: Path, tmp_path_factory, certificates: CertificateFiles) -> Iterator[TritonServer]:
    repository = small_repository(model_repository, tmp_path_factory.mktemp("locked"))
    tls = read_tls(certificates.cert, certificates.key)
    with running_server(repository, token=TOKEN, tls=tls) as started:
        yield started


def _grpc(server: TritonServer, certificates: CertificateFiles) -> grpcclient.InferenceServerClient:
    return grpcclient.InferenceServerClient(server.endpoints.grpc_url, ssl=True, root_certificates=str(certificates.ca))


def _photo_inputs() -> list[grpcclient.InferInput]:
    image = grpcclient.InferInput("IMAGE", [1, 1], "BYTES")
    image.set_data_from_numpy(np.array([[encode(astronaut()[:32, :32])]], dtype=np.object_))
    return [image]


def _grpc_calls(client: grpcclient.InferenceServerClient) -> dict[str, Callable[[dict[str, str]], object]]:
    """One call of each restricted protocol, taking the headers to send."""
    return {
        "inference": lambda h: client.infer(PIPELINE, _photo_inputs(), headers=h),
        "metadata": lambda h: client.get_model_metadata(PIPELINE, headers=h),
        "model-config": lambda h: client.get_model_config(PIPELINE, headers=h),
        "statistics": lambda h: client.get_inference_statistics(headers=h),
        "trace": lambda h: client.get_trace_settings(headers=h),
        "logging": lambda h: client.get_log_settings(headers=h),
        "shared-memory": lambda h: client.get_system_shared_memory_status(headers=h),
        "model-repository": lambda h: client.get_model_repository_index(headers=h),
    }


def _refused(call: Callable[[dict[str, str]], object], headers: dict[str, str]) -> bool:
    try:
        call(headers)
    except InferenceServerException as error:
        return "this protocol is restricted" in str(error.message()).lower()
    return False


@pytest.mark.served
def test_without_the_token_every_protocol_but_health_is_refused_over_grpc(locked, certificates) -> None:
    with _grpc(locked, certificates) as client:
        assert client.is_server_live() and client.is_server_ready()  # probes need no token
        for protocol, call in _grpc_calls(client).items():
            assert _refused(call, {}), protocol
            assert _refused(call, {GRPC_TOKEN: "wrong"}), protocol


@pytest.mark.served
def test_the_token_opens_everything_but_loading_models(locked, certificates) -> None:
    with _grpc(locked, certificates) as client:
        calls = _grpc_calls(client)
        for protocol in set(calls) - {"model-repository"}:
            assert not _refused(calls[protocol], {GRPC_TOKEN: TOKEN}), protocol
        # Loading and unloading belong to the supervisor: the clients' token does not open them.
        assert _refused(calls["model-repository"], {GRPC_TOKEN: TOKEN})
        with pytest.raises(InferenceServerException, match="restricted"):
            client.unload_model(PIPELINE, headers={GRPC_TOKEN: TOKEN})
        assert client.is_model_ready(PIPELINE)


def _http(server: TritonServer, path: str, headers: dict[str, str], method: str = "GET") -> int:
    request = urllib.request.Request(
        server.endpoints.http_url + path, method=method, headers=headers, data=b"{}" if method == "POST" else None
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.mark.served
def test_http_is_restricted_the_same_way(locked: TritonServer) -> None:
    assert _http(locked, "/v2/health/ready", {}) == 200
    guarded = [
        f"/v2/models/{PIPELINE}",
        f"/v2/models/{PIPELINE}/config",
        "/v2/models/stats",
        "/v2/logging",
        "/v2/trace/setting",
    ]
    for path in guarded:
        assert _http(locked, path, {}) != 200, path
        assert _http(locked, path, {TOKEN_KEY: TOKEN}) == 200, path
    index = "/v2/repository/index"
    assert _http(locked, index, {TOKEN_KEY: TOKEN}, "POST") != 200
    assert _http(locked, index, {ADMIN_KEY: locked.admin_token}, "POST") == 200  # the supervisor's key


@pytest.mark.served
def test_tls_round_trip_with_the_client_library(locked: TritonServer, certificates: CertificateFiles) -> None:
    tls = TLSConfig(root_certificates=certificates.ca.read_bytes())
    with LumaflowClient(locked.endpoints.grpc_url, token=TOKEN, tls=tls) as client:
        assert client.enhance(astronaut()[:32, :48], PIPELINE).image.size == (96, 64)
        assert [info.name for info in client.pipelines()] == [PIPELINE]
    with LumaflowClient(locked.endpoints.grpc_url, tls=tls) as anonymous, pytest.raises(Unauthenticated):
        anonymous.enhance(astronaut()[:32, :32], PIPELINE)
    once = RetryPolicy(attempts=1)
    plaintext = LumaflowClient(locked.endpoints.grpc_url, token=TOKEN, retry=once, timeout=5)
    with plaintext, pytest.raises(Unavailable):  # a plaintext channel cannot talk to the TLS port
        plaintext.enhance(astronaut()[:32, :32], PIPELINE)


@pytest.mark.served
def test_the_token_and_tls_never_reach_the_metrics_port(locked: TritonServer) -> None:
    assert locked.endpoints.metrics_host == "127.0.0.1"
    with urllib.request.urlopen(locked.endpoints.metrics_url, timeout=10) as response:
        text = response.read().decode()
    assert "nv_inference_request_success" in text and TOKEN not in text


@pytest.mark.unit
@pytest.mark.parametrize(
    ("content", "mode", "expected"),
    [
        ("", 0o600, "is empty"),
        ("short", 0o600, "at least 16"),
        ("two words but long enough", 0o600, "one word"),
        ("protocols:key=value-0123456789", 0o600, "one word"),
    ],
)
def test_bad_token_files_are_refused(tmp_path: Path, content: str, mode: int, expected: str) -> None:
    path = tmp_path / "token"
    path.write_text(content)
    path.chmod(mode)
    with pytest.raises(ServeError, match=expected):
        read_token(path)


@pytest.mark.unit
def test_a_token_file_others_can_read_is_warned_about(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    assert read_token(path) == (TOKEN, [])
    path.chmod(0o644)
    token, warnings = read_token(path)
    assert token == TOKEN and "chmod 600" in warnings[0]
    with pytest.raises(ServeError, match="cannot read"):
        read_token(tmp_path / "absent")


@pytest.mark.unit
def test_tls_needs_both_files_and_real_pem(tmp_path: Path, certificates: CertificateFiles) -> None:
    assert read_tls(None, None) is None
    with pytest.raises(ServeError, match="both"):
        read_tls(certificates.cert, None)
    with pytest.raises(ServeError, match="not a PEM private key"):
        read_tls(certificates.cert, certificates.cert)
    assert read_tls(certificates.cert, certificates.key) is not None
    assert os.stat(certificates.key).st_mode & 0o077 == 0
