#!/usr/bin/env bash
# Benchmark (not a test): what an in-memory snapshot of ResNeXt-50 costs (Note [In-memory
# snapshots] in src/checkpoint/snapshots.h). One rank trains ResNeXt-50 32x4d with Adam (the
# largest state: weights and two moments) on 32 px images, batch 4, a snapshot every 5 steps
# into /dev/shm, and prints nxt's own lines: the first snapshot's cost on the training thread
# against the step time, and its size and background write time; then its file.
#   tests/bench/bench_snapshot.sh [--set key=value ...]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin="${NXT_BUILD_DIR:-$repo/build}/bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin/nxt_make_demo_images" --output "$work/images" --classes 4 --per-class 20 --size 32 --seed 1 >/dev/null
"$bin/nxt_pack_hdf5" --input "$work/images" --output "$work/data.h5" --size 32 --val-fraction 0.2 \
  --quiet >/dev/null 2>&1
OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} "$repo/launch/nxt_mpirun" -np 1 "$bin/nxt_ddp" \
  --set run.out_dir="$work/runs" --set run.name=snapshot_bench --set data.path="$work/data.h5" \
  --set data.batch_size=4 --set data.image_size=32 --set model.arch=resnext50_32x4d \
  --set optim.name=adam --set train.epochs=1 --set train.snapshot_every_steps=5 \
  --set train.snapshot_dir=/dev/shm --set run.tensorboard=false "$@" 2>&1 |
  grep -E "snapshot of step|model: |peak RSS" || true
