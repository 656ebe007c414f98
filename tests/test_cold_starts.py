"""Cold starts of the full model repository, many in a row (slow tier: ``pytest -m slow tests/test_cold_starts.py``).

A fresh-clone CI run once failed in test_response_cache with "tritonserver exited (-6)" and only a
pinned-memory warning in a log that was gone with its temp folder; three reruns passed. This starts the
whole repository ``STARTS`` times (start, wait until ready, one health check, stop) and writes what each
start did to a JSON report: ``$LUMAFLOW_COLD_START_REPORT``, default ``<tmp>/lumaflow-cold-starts.json``.
A failed start names Triton's own error line and a log kept outside the temp folder.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import tritonclient.grpc as grpcclient

import lumaflow
from lumaflow.server.distribution import ServeError
from lumaflow.server.endpoints import free_endpoints
from lumaflow.server.options import ServerOptions
from lumaflow.server.process import TritonServer
from lumaflow.server.triton_log import error_line

STARTS = 20
REPORT_VARIABLE = "LUMAFLOW_COLD_START_REPORT"


def report_path() -> Path:
    default = Path(tempfile.gettempdir()) / "lumaflow-cold-starts.json"
    return Path(os.environ.get(REPORT_VARIABLE) or default)


def cold_start(model_repository: Path, attempt: int) -> dict[str, Any]:
    """One start of the repository on fresh ports: what happened, how long it took, the exit code of its stop."""
    server = TritonServer(options=ServerOptions(model_repository, endpoints=free_endpoints(), ready_timeout_s=600))
    run: dict[str, Any] = {"attempt": attempt, "ok": False, "error": None, "error_line": None, "log": None}
    started = time.monotonic()
    try:
        server.start()
        run["models"] = len(server.wait_until_ready())
        run["pipelines"] = len(server.entry_points)
        run["ready_s"] = round(time.monotonic() - started, 2)
        with grpcclient.InferenceServerClient(server.endpoints.grpc_url) as client:
            run["healthy"] = bool(client.is_server_live() and client.is_server_ready())
    except ServeError as error:
        run["error"] = str(error)
    finally:
        run["error_line"] = error_line(server.logs())
        run["exit_code"] = server.stop()
        if run["error"] is not None or run["exit_code"] != 0 or not run.get("healthy"):
            run["log"] = str(server.keep_log())
        server.cleanup()
    run["ok"] = run["error"] is None and run["exit_code"] == 0 and bool(run.get("healthy"))
    run["seconds"] = round(time.monotonic() - started, 2)
    return run


@pytest.mark.slow
def test_the_full_repository_starts_cold_twenty_times_in_a_row(model_repository: Path) -> None:
    path = report_path()
    runs: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for attempt in range(1, STARTS + 1):
        run = cold_start(model_repository, attempt)
        runs.append(run)
        print(f"start {attempt}/{STARTS}: {'ok' if run['ok'] else 'FAILED'} in {run['seconds']} s", flush=True)
        failed = [run for run in runs if not run["ok"]]
        report = {
            "lumaflow": lumaflow.__version__,
            "python": sys.version.split()[0],
            "machine": platform.node(),
            "model_repository": str(model_repository),
            "starts": len(runs),
            "failures": len(failed),
            "exit_codes": [run["exit_code"] for run in runs],
            "runs": runs,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n")  # after every start: a hung run still leaves one
    print(f"report: {path}")
    assert not failed, [(run["attempt"], run["error"] or run["error_line"], run["log"]) for run in failed]
