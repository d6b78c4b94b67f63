#!/usr/bin/env bash
# Fine-tuning against training from scratch, on CPU, as docs/usage.md's "Fine-tuning" figures were
# made. ImageNet weights cannot be downloaded here, so a longer nxt run on a larger, harder
# synthetic set (6 shape classes, 1,800 images, other seed) stands in for them. The target
# is a small folder of the demo's kind: 4 classes x 60 images, packed 50/25/25 into
# train/val/test. Both runs train the same model for the same number of epochs with the same
# seed; the fine-tuned one starts from the stand-in's weights (configs/finetune.yaml's recipe:
# a fresh fc trained alone for one epoch, then everything, the backbone at 0.1x the head's lr).
# Prints both runs' best val accuracy and their test accuracy (test_metrics.json).
# Usage: launch/finetune_demo.sh [EPOCHS]   (after launch/demo.sh has built everything)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${NXT_BUILD_DIR:-build}/bin
epochs=${1:-8}
out=runs/finetune_demo
mkdir -p "$out"
data=demo_data/finetune
rm -rf "$data" && mkdir -p "$data"
"$bin/nxt_make_demo_images" --output "$data/pretrain_images" --classes 6 --per-class 300 \
  --size 64 --seed 7 --easy >/dev/null
data_tools/pack_hdf5 --input "$data/pretrain_images" --output "$data/pretrain.h5" --size 32 \
  --val-fraction 0.1 --seed 7 --quiet
"$bin/nxt_make_demo_images" --output "$data/small_images" --classes 4 --per-class 60 --size 64 \
  --seed 11 --easy >/dev/null
data_tools/pack_hdf5 --input "$data/small_images" --output "$data/small.h5" --size 32 \
  --val-fraction 0.25 --test-fraction 0.25 --seed 11 --quiet

common=(--set run.out_dir="$out" --set train.log_every_steps=0)
launch/nxt_mpirun -np 2 "$bin/nxt_ddp" --config configs/demo.yaml "${common[@]}" \
  --set run.name=pretrain --set data.path="$data/pretrain.h5" --set train.epochs=15 \
  >"$out/pretrain.out" 2>&1
data_tools/convert_state_dict.py "$out/pretrain/best.pt" "$out/pretrained.pt"

small=(--set data.path="$data/small.h5" --set train.epochs="$epochs" --set data.batch_size=8)
launch/nxt_mpirun -np 2 "$bin/nxt_ddp" --config configs/demo.yaml "${common[@]}" "${small[@]}" \
  --set run.name=scratch >"$out/scratch.out" 2>&1
launch/nxt_mpirun -np 2 "$bin/nxt_ddp" --config configs/demo.yaml "${common[@]}" "${small[@]}" \
  --set run.name=finetuned --set model.pretrained="$out/pretrained.pt" \
  --set train.freeze_backbone_epochs=1 --set optim.backbone_lr_mult=0.1 \
  --set optim.warmup_epochs=0 >"$out/finetuned.out" 2>&1

"$(bash launch/python_env.sh --python)" - "$out" "$epochs" <<'PY'
import json, sys
out, epochs = sys.argv[1], sys.argv[2]
pre = json.load(open(f"{out}/pretrain/summary.json"))
print(f"stand-in pretraining: 6 classes, best val acc {100 * pre['best_val_accuracy']:.2f}%")
print(f"small folder, {epochs} epochs each:")
for name in ("scratch", "finetuned"):
    test = json.load(open(f"{out}/{name}/test_metrics.json"))
    print(f"  {name:9s}: best val acc {100 * test['val_accuracy']:6.2f}% (epoch {test['epoch']}), "
          f"test acc {100 * test['test_accuracy']:6.2f}% on {test['test_images']} images")
PY
