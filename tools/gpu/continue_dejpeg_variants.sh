#!/usr/bin/env bash
# Three continuations of the served de-JPEG network side by side on one GPU, for `dejpeg_eval` to choose among on
# the validation photos here (docs/training.md, 2026-12-04 second run). Same setup as tools/gpu/train_dejpeg.sh;
# INIT is the served build/weights/dejpeg.pt, carried with the packed train set in .gpu-train/.
#   E: the served shape, more steps;  F: the same with four source scales (1, 0.8, 0.6, 0.45) for more variety;
#   G: two more low convs appended as identities (train_dejpeg.load_init), with F's scales.
#   bash tools/gpu/continue_dejpeg_variants.sh OUT MINUTES INIT.pt
# Only each run's final weights and summary are written: the device returns about eight files per call, and the
# first use of this script (with a checkpoint every 5 000 steps) got back E's files and none of F's or G's.
set -uo pipefail
out=${1:?OUT folder}; minutes=${2:?minutes}; init=${3:?initial weights}
pkg=$(mktemp -d)
mkdir -p "$pkg/lumaflow" "$out" && cp lumaflow/*.py "$pkg/lumaflow/"
for room in build runtime ensemble client; do ln -s "$PWD/$room" "$pkg/lumaflow/$room"; done
export PYTHONPATH=$pkg PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
common=(--device cuda --workers 5 --minutes "$minutes" --batch-size 32 --patch 128 --lr 2e-4 --warmup-steps 0
  --photos .gpu-train/train.npz --train-only --init "$init" --checkpoint-every 1000000000)
run() {  # name, then its options
  local name=$1; shift
  python3 -P -m lumaflow.build.train_dejpeg "${common[@]}" "$@" --out "$out/$name" 2>&1 | sed -u "s/^/$name /" >>"$out/log.txt"
}
run E --seed 4 &
run F --seed 5 --scales 1 0.8 0.6 0.45 &
run G --seed 6 --scales 1 0.8 0.6 0.45 --low 6 &
wait
for name in E F G; do grep "^$name " "$out/log.txt" | tail -3; done
ls -l "$out"/*
