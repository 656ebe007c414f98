"""Shared fixtures: one real tritonserver for the suite, on free loopback ports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from lumaflow.build.deploy import DEFAULT_REPOSITORY, ensure_artifacts
from lumaflow.server.process import TritonServer, running_server


@pytest.fixture(scope="session")
def model_repository() -> Path:
    """The repository's own model_repository, with its ONNX graphs built from committed weights."""
    ensure_artifacts(DEFAULT_REPOSITORY, say=False)
    return DEFAULT_REPOSITORY


@pytest.fixture(scope="session")
def server(model_repository: Path) -> Iterator[TritonServer]:
    with running_server(model_repository) as started:
        yield started


@pytest.fixture()
def client(server: TritonServer) -> Iterator[grpcclient.InferenceServerClient]:
    with grpcclient.InferenceServerClient(server.endpoints.grpc_url) as connected:
        yield connected


def image_input(data: bytes) -> grpcclient.InferInput:
    tensor = grpcclient.InferInput("IMAGE", [1, 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[data]], dtype=np.object_))
    return tensor


def options_input(options: dict) -> grpcclient.InferInput:
    tensor = grpcclient.InferInput("OPTIONS", [1, 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[json.dumps(options).encode()]], dtype=np.object_))
    return tensor


def enhance(
    client: grpcclient.InferenceServerClient,
    data: bytes,
    pipeline: str = "upscale_x2",
    timeout_s: float = 120,
    options: dict | None = None,
) -> tuple[bytes, dict]:
    """Send one encoded image (and OPTIONS); return the encoded result and the parsed INFO."""
    inputs = [image_input(data)] + ([options_input(options)] if options is not None else [])
    result = client.infer(pipeline, inputs, client_timeout=timeout_s)
    enhanced = result.as_numpy("ENHANCED")
    info = result.as_numpy("INFO")
    assert enhanced.shape == (1, 1) and info.shape == (1, 1)
    return enhanced[0, 0], json.loads(info[0, 0])
