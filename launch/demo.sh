#!/usr/bin/env bash
# The README's main command: installs the system packages, builds, makes the demo images, packs
# them into demo_data/demo.h5, trains the demo model with mpirun on 2 CPU ranks
# (configs/demo.yaml), evaluates best.pt with nxt_eval (per-class scores, confusion matrix),
# classifies a few images with nxt_predict, and prints where everything is.
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/install_deps.sh
# Only the programs the demo runs (the tests take most of a full build's time).
NXT_BUILD_TARGETS="nxt_ddp nxt_eval nxt_predict nxt_make_demo_images nxt_pack_hdf5" \
  bash launch/build.sh
source launch/torch_choice.sh
nxt_choose_torch
bin=$NXT_BUILD_DIR/bin
export NXT_BUILD_DIR
rm -rf demo_data/images
data_tools/make_demo_images --output demo_data/images --classes 4 --per-class 400 --size 64 --seed 0 --easy
data_tools/pack_hdf5 --input demo_data/images --output demo_data/demo.h5 --size 32 \
  --val-fraction 0.2 --seed 0
data_tools/pack_hdf5 --inspect demo_data/demo.h5
"$bin/nxt_ddp" --config configs/demo.yaml --summary --set model.num_classes=4
launch/nxt_mpirun -np 2 "$bin/nxt_ddp" --config configs/demo.yaml "$@"
run=runs/demo
best=$(awk -F, 'NR > 1 && $4 > best { best = $4; epoch = $1 } END { printf "%.1f%% (epoch %d)", 100 * best, epoch }' "$run/metrics.csv")
"$bin/nxt_eval" --checkpoint "$run/best.pt" --data demo_data/demo.h5 --out "$run/eval"
"$bin/nxt_predict" --checkpoint "$run/best.pt" --topk 2 \
  $(find demo_data/images -name '00000.*' | sort)
echo "demo: best val accuracy $best; best model $run/best.pt; curves $run/curves.png;" \
  "evaluation $run/eval (confusion.png); log $run/log.txt"
