"""pytest's fixtures and hooks: the test tiers, the unit tier's guard, one real tritonserver for the suite.

Every test has exactly one tier, a marker registered in pyproject.toml, set by a module's
``pytestmark = pytest.mark.<tier>`` where the whole module is one tier, else on each test:

- ``unit``: no tritonserver, no network, fast; ``pytest -m unit`` runs in under 2 minutes.
- ``build``: no server, but real model work: training smoke tests, ONNX export and parity, ncnn
  reference comparisons, committed weights judged on photos, evaluation offline, the built model
  repository (``model_repository`` builds missing graphs), tools fetched for the chart or the client's install.
- ``served``: starts a tritonserver (the session's ``server``, one of its own, ``lumaflow serve``) or
  dials one over the network.
- ``slow``: big images, soaks, sweeps; run by hand (``-m slow``), never by default (addopts ``-m 'not slow'``).

``slow`` overrides: a test marked slow in a module whose ``pytestmark`` names another tier is slow, and
slow tests run only when ``-m`` names slow (``-m build`` leaves out a slow test of a build module).
A collected test with no tier, or with two other than slow, fails the whole run
(``pytest_collection_modifyitems``, before ``-m`` deselects anything), naming the tests.

Unit tests are guarded (``unit_tier_guard``): starting a tritonserver (``TritonServer.start``) or
connecting a Python socket fails the test loudly. A child process or gRPC's own C sockets are not seen.

Helpers (photos, request helpers, small repositories, ``Serve``, the test CA, the ncnn runner) live in
``tests/fixtures.py``; tests import them from there, never from here.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
import tritonclient.grpc as grpcclient

from lumaflow.build.deploy import DEFAULT_REPOSITORY, ensure_artifacts
from lumaflow.server.process import TritonServer, running_server

TIERS = ("unit", "build", "served", "slow")


@pytest.hookimpl(tryfirst=True)  # before -m deselects: `pytest -m unit` checks every test's tier too
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wrong = []
    for item in items:
        tiers = sorted({mark.name for mark in item.iter_markers() if mark.name in TIERS})
        if len(tiers) != 1 and "slow" not in tiers:  # slow overrides a module's tier
            wrong.append(f"  {item.nodeid}: {', '.join(tiers) or 'no tier'}")
    if wrong:
        raise pytest.UsageError(
            f"{len(wrong)} test(s) without exactly one tier ({', '.join(TIERS)}; see tests/conftest.py):\n"
            + "\n".join(wrong)
        )
    if "slow" not in (config.option.markexpr or ""):  # slow tests run only when asked for by name
        slow = [item for item in items if item.get_closest_marker("slow") is not None]
        if slow:
            config.hook.pytest_deselected(items=slow)
            items[:] = [item for item in items if item.get_closest_marker("slow") is None]


@pytest.fixture(autouse=True)
def unit_tier_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit test that starts a tritonserver or opens a connection fails: it belongs to another tier."""
    if request.node.get_closest_marker("unit") is None:
        return
    test = request.node.nodeid

    def no_server(*_: object, **__: object) -> NoReturn:
        pytest.fail(f"{test} is a unit test but starts a tritonserver: mark it served", pytrace=False)

    def no_network(_: socket.socket, address: object) -> NoReturn:
        pytest.fail(f"{test} is a unit test but connects to {address!r}: mark it served or build", pytrace=False)

    monkeypatch.setattr(TritonServer, "start", no_server)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)


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
