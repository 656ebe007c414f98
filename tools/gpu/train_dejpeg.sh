#!/usr/bin/env bash
# Three de-JPEG networks trained side by side on one GPU, for `lumaflow train dejpeg --adopt` to choose among on the
# validation photos (docs/training.md). Runs on the GPU machine the device tool lends, from the repository root,
# with the train set packed first here (python -m lumaflow.build.photo_pack train .gpu-train/train.npz) and
# carried; that machine's own python3 holds torch, so the package is assembled from this tree on PYTHONPATH.
#   bash tools/gpu/train_dejpeg.sh OUT MINUTES
set -uo pipefail
out=${1:?OUT folder}; minutes=${2:-8.5}
pkg=$(mktemp -d)
mkdir -p "$pkg/lumaflow" && cp lumaflow/*.py "$pkg/lumaflow/"
for room in build runtime ensemble client; do ln -s "$PWD/$room" "$pkg/lumaflow/$room"; done
export PYTHONPATH=$pkg PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name(0))'
common=(--device cuda --workers 4 --minutes "$minutes" --batch-size 32 --patch 128 --lr 8e-4
  --photos .gpu-train/train.npz --train-only --checkpoint-every 1000000000)
run() {  # name, then the network's shape
  local name=$1; shift
  python3 -P -m lumaflow.build.train_dejpeg "${common[@]}" "$@" --out "$out/$name" 2>&1 | sed -u "s/^/$name /" >>"$out/log.txt"
}
run A --features 48 --low-features 96 --low 4 &
run B --features 48 --low-features 128 --low 6 &
run C --features 64 --low-features 128 --low 6 &
wait
for name in A B C; do grep "^$name " "$out/log.txt" | tail -4; done
ls -l "$out"/*
