#!/usr/bin/env bash
# One de-JPEG network continued from given weights on one GPU, checkpointing into OUT as it goes (so a run cut off
# by the device's time limit still returns its last checkpoint). Same setup as tools/gpu/train_dejpeg.sh.
#   bash tools/gpu/continue_dejpeg.sh OUT MINUTES INIT.pt [train_dejpeg options...]
set -uo pipefail
out=${1:?OUT folder}; minutes=${2:?minutes}; init=${3:?initial weights}; shift 3
pkg=$(mktemp -d)
mkdir -p "$pkg/lumaflow" && cp lumaflow/*.py "$pkg/lumaflow/"
for room in build runtime ensemble client; do ln -s "$PWD/$room" "$pkg/lumaflow/$room"; done
export PYTHONPATH=$pkg PYTHONUNBUFFERED=1
python3 -P -m lumaflow.build.train_dejpeg --device cuda --workers 14 --minutes "$minutes" --batch-size 32 --patch 128 \
  --photos .gpu-train/train.npz --train-only --init "$init" --out "$out" "$@" 2>&1 | tee "$out/log.txt" | grep -v "^step [0-9]*[1-9]00 "
ls -l "$out"
