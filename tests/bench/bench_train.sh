#!/usr/bin/env bash
# Benchmark (not a test): end-to-end training images/s of nxt_ddp against PyTorch DDP in Python
# (tests/bench/ddp_python.py: gloo, ImageFolder over JPEGs), same model, sizes, batch and
# optimizer (Adam 1e-4), one thread per rank, for 1 and 2 ranks, in one run; and the scaling
# efficiency 2 ranks vs 1 at a fixed per-rank batch.
#   tests/bench/bench_train.sh [full|small]
#     full:  ResNeXt-50 (32x4d) at 224px, batch 8 per rank, one short epoch
#     small: ResNeXt [1,1,1,1] (32x4d) at 64px, batch 32 per rank, two epochs (the second counts)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin="${NXT_BUILD_DIR:-$repo/build}/bin"
mode=${1:-small}
work=${BENCH_DIR:-$(mktemp -d)}
if [[ $mode == full ]]; then
  size=224; batch=8; blocks="3,4,6,3"; images=40; epochs=1; arch=(--set model.arch=resnext50_32x4d)
else
  size=64; batch=32; blocks="1,1,1,1"; images=160; epochs=2
  arch=(--set model.arch=custom --set model.blocks=[1,1,1,1] --set model.cardinality=32
        --set model.width_per_group=4 --set model.stem_width=64 --set model.stem=imagenet)
fi
# 4 classes x $images images; val is a token 4 images per class (train only is timed).
[[ -d "$work/images_$mode" ]] || "$bin/nxt_make_demo_images" --output "$work/images_$mode" --classes 4 \
  --per-class "$images" --size 256 --seed 1 >/dev/null
[[ -f "$work/$mode.h5" ]] || "$bin/nxt_pack_hdf5" --input "$work/images_$mode" --output "$work/$mode.h5" \
  --size "$size" --val-fraction 0.025 --quiet >/dev/null 2>&1
common=(--set data.path="$work/$mode.h5" --set data.batch_size=$batch --set data.image_size=$size
        --set data.normalize=imagenet --set data.hflip=false --set data.crop=none
        --set optim.name=adam --set optim.lr=1e-4 --set train.epochs=$epochs
        --set run.out_dir="$work/runs" --set run.threads_per_rank=1 --set dist.backend=mpi
        --set train.log_every_seconds=1000 "${arch[@]}")
for ranks in 1 2; do
  OMP_NUM_THREADS=1 "$repo/launch/nxt_mpirun" -np $ranks "$bin/nxt_ddp" "${common[@]}" \
    --set run.name="${mode}_$ranks" 2>&1 | grep -E "Epoch: $epochs,|step time" | sed "s/^/nxt $ranks rank(s): /"
  OMP_NUM_THREADS=1 /usr/bin/python3 "$repo/tests/bench/ddp_python.py" "$work/images_$mode" $ranks $size $batch \
    "$blocks" $epochs 2>&1 | grep "epoch $epochs:" | sed "s/^/python $ranks rank(s): /"
done
