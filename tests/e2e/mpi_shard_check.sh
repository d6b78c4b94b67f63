#!/usr/bin/env bash
# Packs a small real dataset, then runs nxt_shard_check under a real 3-rank mpirun: each rank
# must read only its shard, with labels and pixels that match the file.
set -euo pipefail
bin="$1"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin/nxt_make_demo_images" --output "$work/images" --classes 2 --per-class 21 --size 32 --seed 2 >/dev/null
"$bin/nxt_pack_hdf5" --input "$work/images" --output "$work/data.h5" --size 32 --val-fraction 0.25 \
  --threads 2 >/dev/null 2>&1
timeout 60 "$here/../../launch/nxt_mpirun" -np 3 "$bin/nxt_shard_check" "$work/data.h5" 2>&1 | tee "$work/out"
grep -q "shard check passed: 3 ranks" "$work/out"
