"""Every Triton metric the chart's autoscaling rule and CPU dashboard use exists in a real server's scrape.

helm/check.sh checks that each PromQL query uses only names listed in helm/lumaflow/metrics.txt; this checks
that list against what `lumaflow serve`'s tritonserver (2.51, CPU) exports once it has served requests.
"""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from lumaflow.server.process import TritonServer
from tests.fixtures import astronaut, encode, enhance

pytestmark = pytest.mark.served

METRICS_LIST = Path(__file__).resolve().parent.parent / "helm" / "lumaflow" / "metrics.txt"


def listed_metrics() -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in METRICS_LIST.read_text().splitlines())
    return [line for line in lines if line]


def test_every_metric_the_chart_uses_is_exported(server: TritonServer) -> None:
    with grpcclient.InferenceServerClient(server.endpoints.grpc_url) as client:
        enhance(client, encode(astronaut()[:48, :64]), "upscale_x2_fast")  # summaries appear after requests
        frame = grpcclient.InferInput("FRAME", [1, 48, 64, 3], "UINT8")
        frame.set_data_from_numpy(astronaut()[None, :48, :64].astype(np.uint8))
        client.infer("camera_x2", [frame])
    with urllib.request.urlopen(server.endpoints.metrics_url, timeout=10) as response:
        scrape = response.read().decode()
    exported = set(re.findall(r"^# TYPE (\w+) ", scrape, flags=re.MULTILINE))
    listed = listed_metrics()
    assert len(listed) >= 10 and "nv_inference_queue_duration_us" in listed
    missing = sorted(set(listed) - exported)
    assert not missing, f"helm/lumaflow/metrics.txt names metrics this server does not export: {missing}"
    assert re.search(r'^nv_inference_queue_duration_us\{model="espcn_x2"', scrape, flags=re.MULTILINE)
