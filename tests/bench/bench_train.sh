#!/usr/bin/env bash
# Benchmark (not a test): training images/s of ResNeXt-50 (32x4d), side by side in one run, on
# the same packed HDF5 file, Adam 1e-4, ImageNet normalisation, no augmentation:
#   nxt     nxt_ddp (the default build: LibTorch 2.15), the second epoch of two (the first warms
#           up); threads per rank = cores / ranks;
#   eager   PyTorch 2.15 DDP (gloo), eager, channels-last, same threads (tests/bench/ddp_today.py);
#   compile the same wrapped in torch.compile (inductor, CPU); its warm-up steps (the
#           compilation) are excluded and printed apart.
# Configurations (the issue's): 32px with 2 ranks x batch 16, 224px with 1 and 2 ranks x batch 8.
# Each row states images/s and the ratio nxt / peer. BENCH_DIR keeps the data between runs;
# BENCH_ONLY="32 224" picks sizes; BENCH_PEERS="eager compile" picks peers.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin="${NXT_BUILD_DIR:-$repo/build}/bin"
python=$(bash "$repo/launch/python_env.sh" --python)
work=${BENCH_DIR:-$(mktemp -d)}
cores=$(nproc)
mkdir -p "$work"
# 4 classes x 200 images at 256px, packed at each size; val is a token 4 per class.
[[ -d "$work/images" ]] || "$bin/nxt_make_demo_images" --output "$work/images" --classes 4 \
  --per-class 200 --size 256 --seed 1 >/dev/null

# measure SIZE RANKS BATCH TRAIN_IMAGES: one row per program.
measure() {
  local size=$1 ranks=$2 batch=$3 train=$4 data="$work/${1}px_$4.h5"
  local per_class=$(((train + 3) / 4 + 1))
  if [[ ! -f "$data" ]]; then
    rm -rf "$work/subset" && mkdir -p "$work/subset"
    for class in "$work/images"/*/; do
      mkdir -p "$work/subset/$(basename "$class")"
      # sed, not head: head's early exit would SIGPIPE sort, fatal under pipefail.
      find "$class" -type f | sort | sed -n "1,${per_class}p" | xargs cp -t "$work/subset/$(basename "$class")"
    done
    "$bin/nxt_pack_hdf5" --input "$work/subset" --output "$data" --size "$size" \
      --val-fraction 0.2 --quiet >/dev/null 2>&1
  fi
  local steps=$((train / (batch * ranks))) threads=$((cores / ranks > 0 ? cores / ranks : 1))
  local name="${size}px_${ranks}x${batch}"
  OMP_NUM_THREADS=$threads "$repo/launch/nxt_mpirun" -np "$ranks" "$bin/nxt_ddp" \
    --set data.path="$data" --set data.batch_size="$batch" --set data.image_size="$size" \
    --set data.normalize=imagenet --set data.hflip=false --set data.crop=none \
    --set model.arch=resnext50_32x4d --set model.num_classes=4 --set optim.name=adam \
    --set optim.lr=1e-4 --set train.epochs=2 --set run.out_dir="$work/runs" \
    --set run.name="$name" --set run.threads_per_rank="$threads" --set dist.backend=mpi \
    --set train.log_every_seconds=1000 >"$work/$name.nxt.log" 2>&1
  local nxt_rate
  nxt_rate=$(awk -F, 'NR == 3 { print $8 }' "$work/runs/$name/metrics.csv")
  local peak
  peak=$(grep -o "peak RSS [0-9.]* GiB" "$work/runs/$name/log.txt" | tail -1)
  printf '%-16s %-8s %8.2f img/s (epoch 2: %d steps; rank 0 %s)\n' "$name" nxt "$nxt_rate" \
    "$steps" "$peak" | tee -a "$work/table.txt"
  for peer in ${BENCH_PEERS:-eager compile}; do
    local line rate
    line=$("$python" "$repo/tests/bench/ddp_today.py" "$data" "$ranks" "$batch" 3 "$steps" "$peer" \
      2>"$work/$name.$peer.err" | tail -1) || { cat "$work/$name.$peer.err"; line=""; }
    rate=$(sed -nE 's/.*: ([0-9.]+) img\/s.*/\1/p' <<<"$line")
    if [[ -z "$rate" ]]; then
      printf '%-16s %-8s failed (%s)\n' "$name" "$peer" "$work/$name.$peer.err" | tee -a "$work/table.txt"
      continue
    fi
    printf '%-16s %-8s %8.2f img/s   nxt/%s = %.2f   [%s]\n' "$name" "$peer" "$rate" "$peer" \
      "$(bc -l <<<"$nxt_rate / $rate")" "${line#*: }" | tee -a "$work/table.txt"
  done
}

"$python" -c 'import torch; print("peers: torch", torch.__version__, "| nxt:", end=" ")'
grep -m1 "^Torch_DIR" "${NXT_BUILD_DIR:-$repo/build}/CMakeCache.txt" 2>/dev/null || echo
echo "cores: $cores; data and logs in $work"
: >"$work/table.txt"
for size in ${BENCH_ONLY:-32 224}; do
  if [[ $size == 32 ]]; then
    measure 32 2 16 640
  else
    measure 224 1 8 96
    measure 224 2 8 96
  fi
done
echo
cat "$work/table.txt"
