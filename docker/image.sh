#!/usr/bin/env bash
# `make image`: the CPU image, built with podman here: `bash docker/image.sh [PYTHON]`.
#
#   1. the base from Debian's packages (docker/base.sh; kept once made)
#   2. the wheelhouse (.image/wheelhouse): the lumaflow wheel and every wheel `lumaflow[server,web]` needs, made on
#      the host by pip (PYTHON, default .venv/bin/python), so the build itself reaches no network
#   3. podman build of docker/Dockerfile with the wheelhouse as its context, tagged localhost/lumaflow:VERSION
#   4. podman save: an OCI archive at .image/lumaflow-VERSION.oci.tar, the file to load on a machine without a registry
#
# Prints the build time, the image size and what takes the space, and writes .image/image.json with them.
# podman runs as root with runc and explicit limits: the default crun fails on these machines (cgroups v1 hybrid,
# setrlimit not permitted). --no-cache: buildah keys a RUN layer by its text, not by the bind-mounted wheels.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${1:-.venv/bin/python}
WORK=${LUMAFLOW_IMAGE_WORK:-$PWD/.image}
VERSION=$("$PYTHON" -c 'import lumaflow; print(lumaflow.__version__)')
TAG=${LUMAFLOW_IMAGE:-localhost/lumaflow:$VERSION}
REVISION=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
PODMAN_RUN=(--runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1000:1000)
started=$(date +%s)

bash docker/base.sh
mkdir -p "$WORK"
[ -f "$WORK/.gitignore" ] || printf '# make image: base root, wheelhouse, image archive; never committed.\n*\n' >"$WORK/.gitignore"
echo "wheelhouse: pip wheel lumaflow[server,web] into $WORK/wheelhouse ..."
rm -f "$WORK"/wheelhouse/lumaflow-*.whl
"$PYTHON" -m pip wheel --quiet --wheel-dir "$WORK/wheelhouse" ".[server,web]" "numpy<2" 2>"$WORK/wheelhouse.log" ||
  { tail -20 "$WORK/wheelhouse.log" >&2; exit 1; }
echo "podman build $TAG ..."
podman build "${PODMAN_RUN[@]}" --no-cache --file docker/Dockerfile --tag "$TAG" \
  --build-arg VERSION="$VERSION" --build-arg REVISION="$REVISION" "$WORK/wheelhouse" >"$WORK/build.log" 2>&1 ||
  { tail -30 "$WORK/build.log" >&2; exit 1; }
built=$(date +%s)
ARCHIVE=$WORK/lumaflow-$VERSION.oci.tar
rm -f "$ARCHIVE"
podman save --format oci-archive --output "$ARCHIVE" "$TAG" >/dev/null
size=$(podman image inspect --format '{{.Size}}' "$TAG")
echo "what takes the space (MB):"
podman run --rm "${PODMAN_RUN[@]}" --entrypoint /bin/sh "$TAG" -c \
  'du -sm /usr /opt/lumaflow/lib/python3*/site-packages/* /opt/lumaflow/bin 2>/dev/null | sort -rn | head -12' |
  tee "$WORK/space.txt" | sed 's/^/  /'
"$PYTHON" - "$WORK/image.json" "$TAG" "$size" "$((built - started))" "$ARCHIVE" <<'EOF'
import json, os, sys
path, tag, size, seconds, archive = sys.argv[1:]
space = [line.split("\t", 1) for line in open(os.path.join(os.path.dirname(path), "space.txt")) if "\t" in line]
record = {
    "image": tag,
    "size_mb": round(int(size) / 1e6),
    "archive_mb": round(os.path.getsize(archive) / 1e6),
    "build_s": int(seconds),
    "largest_mb": {name.strip(): int(mb) for mb, name in space},
}
json.dump(record, open(path, "w"), indent=1)
print(f"image {tag}: {record['size_mb']} MB (archive {archive}: {record['archive_mb']} MB), built in {seconds} s")
EOF
