#!/usr/bin/env bash
# Class imbalance, on a generated folder with a 10:1 imbalance (160 circles, 160 squares, 16
# triangles): in the same short run, the minority class's recall is higher with
# data.sampler: balanced and with train.class_weights: balanced than with neither; and a
# 2-rank run with the balanced sampler and every augmentation on (colour jitter,
# TrivialAugmentWide, mixup and cutmix), stopped mid-epoch and resumed, ends with the same
# parameters as the straight run.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
"$bin/nxt_make_demo_images" --output "$work/images" --classes 3 --per-class 160 --size 32 \
  --seed 4 --easy >/dev/null
(cd "$work/images/triangle" && ls | tail -n +17 | xargs rm)
"$bin/nxt_pack_hdf5" --input "$work/images" --output "$work/data.h5" --size 32 \
  --val-fraction 0.25 --seed 3 --quiet >/dev/null 2>&1 || fail "pack failed"

# minority_scores NAME EXTRA...: trains 3 epochs, then classifies the 16 triangles with
# nxt_predict and prints "RECALL MEAN_PROBABILITY" of the triangle class over them. (The val
# split holds only 4 triangles: too coarse, and LibTorch 1.13 and 2.6 train slightly apart.)
minority_scores() {
  local name=$1
  shift
  "$bin/nxt_ddp" --config "$(tiny_config "$work" "$name")" --set train.epochs=3 "$@" \
    >"$work/$name.out" 2>&1 || { cat "$work/$name.out"; fail "the $name run failed"; }
  "$bin/nxt_predict" --checkpoint "$work/runs/$name/last.pt" --format jsonl --topk 3 \
    "$work/images/triangle" >"$work/$name.jsonl" 2>/dev/null || fail "nxt_predict failed on $name"
  py "
import json
rows = [json.loads(line) for line in open('$work/$name.jsonl')]
assert len(rows) == 16, len(rows)
probability = [[t['probability'] for t in r['top'] if t['class'] == 'triangle'][0] for r in rows]
recall = sum(r['top'][0]['class'] == 'triangle' for r in rows) / len(rows)
print(recall, sum(probability) / len(rows))"
}
read -r none_recall none_p <<<"$(minority_scores plain)"
read -r sampled_recall sampled_p <<<"$(minority_scores sampler --set data.sampler=balanced)"
read -r weighted_recall weighted_p <<<"$(minority_scores weights --set train.class_weights=balanced)"
echo "minority (triangle) recall / mean probability over its 16 images: none $none_recall / $none_p," \
  "balanced sampler $sampled_recall / $sampled_p, balanced weights $weighted_recall / $weighted_p"
grep -q "class weights (balanced): circle 0.25 square 0.25 triangle 2.5$" "$work/weights.out" ||
  fail "no class-weights line (inverse frequency, mean 1)"
py "assert $sampled_recall > $none_recall and $weighted_recall > $none_recall" ||
  fail "balancing did not raise the minority class's recall"
py "assert $sampled_p > 2 * $none_p and $weighted_p > 2 * $none_p" ||
  fail "balancing did not raise the minority class's probability"

# Exact resume with the balanced sampler and all augmentations (2 ranks, stopped at global step 45: epoch 2, step 13 of 32).
common=(--set data.sampler=balanced --set run.threads_per_rank=1 --set train.epochs=2
        --set data.color_jitter=0.3 --set data.auto_augment=trivial --set data.mixup_alpha=0.2
        --set data.cutmix_alpha=1.0)
straight=$(tiny_config "$work" straight)
run_bounded 300 "$work/out1" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$straight" "${common[@]}"
[[ $code -eq 0 ]] || fail "the straight run exited $code"
stopped=$(tiny_config "$work" stopped)
NXT_STOP_AT_STEP=45 run_bounded 300 "$work/out2" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" \
  --config "$stopped" "${common[@]}"
[[ $code -ne 0 ]] || fail "the stop hook did not stop the run"
run_bounded 300 "$work/out3" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$stopped" \
  "${common[@]}" --resume auto
[[ $code -eq 0 ]] || fail "the resumed run exited $code"
grep -qE "resumed from .*last.pt: epoch 2, step" "$work/out3" || fail "did not resume mid-epoch 2"
expect_same_parameters "$work/runs/straight/last.pt" "$work/runs/stopped/last.pt"
echo "PASS: balancing raises minority recall; balanced sampler + augmentations resume exactly"
