#!/usr/bin/env bash
# Resolution control and random erasing end to end (2 ranks): 32px scenes packed at 64, trained
# at data.train_size 32 -> 64 over train_size_ramp [1, 3] (FFCV's progressive resizing; epoch 2
# interpolates to 48 = 1.5 x 32, a tie numpy rounds to 64) and evaluated at eval_size 64 after
# resizing to eval_resize 72 (centre crop 64/72), with data.random_erase on:
#  - each epoch's logged training size is the schedule's, computed by numpy with FFCV's formula
#    (tests/unit/resolution_reference.py); rank 0 warns that eval_resize 72 upsamples;
#  - a stop mid-epoch 2 (NXT_STOP_AT_STEP) and --resume auto end bitwise equal to a straight run
#    (the size and the erased rectangles are functions of the epoch and sample position);
#  - best.pt's preprocess records the evaluation size 64, the crop 64/72 and the training size
#    of its epoch; nxt_eval on it gives the trainer's best val accuracy and loss; nxt_predict on
#    the packed val images (PNG) gives the probabilities of nxt_eval's path: its mean -log
#    p(true class) is nxt_eval's mean loss.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
"$bin/nxt_make_demo_images" --output "$work/images" --classes 3 --per-class 40 --size 32 \
  --seed 3 --easy >/dev/null || fail "make_demo_images"
"$bin/nxt_pack_hdf5" --input "$work/images" --output "$work/data.h5" --size 64 \
  --val-fraction 0.25 --seed 3 --quiet >/dev/null 2>&1 || fail "pack_hdf5 --size 64"
straight=$(tiny_config "$work" straight)
stopped=$(tiny_config "$work" stopped)
sizes=(--set data.train_size=32 --set data.train_size_end=64
       --set "data.train_size_ramp=[1, 3]" --set data.eval_size=64 --set data.eval_resize=72
       --set data.random_erase=0.25 --set data.crop=none --set optim.name=adam
       --set optim.lr=0.003 --set train.epochs=3 --set run.threads_per_rank=1)

# The schedule, by numpy (FFCV's get_resolution), for epochs 1..3.
printf "32 64 1 3 %d\n" 1 2 3 >"$work/cases.txt"
"$python" "$repo_root/tests/unit/resolution_reference.py" ffcv "$work/cases.txt" "$work/sizes.txt" ||
  fail "resolution_reference.py"
mapfile -t expected <"$work/sizes.txt"
[[ "${expected[*]}" == "32 64 64" ]] || fail "numpy's schedule is '${expected[*]}', not 32 64 64"
# The lines a run starting at epoch FIRST logs: its first epoch's size, then each change.
expected_lines() {
  local e previous=0
  for ((e = $1; e <= 3; e++)); do
    [[ ${expected[e - 1]} != "$previous" ]] && echo "epoch $e: training at ${expected[e - 1]} px"
    previous=${expected[e - 1]}
  done
}
logged_lines() { grep -oE "epoch [0-9]+: training at [0-9]+ px" "$1"; }

run_bounded 120 "$work/straight.out" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$straight" \
  "${sizes[@]}" >/dev/null
[[ $code -eq 0 ]] || { cat "$work/straight.out"; fail "the straight run exited $code"; }
diff <(expected_lines 1) <(logged_lines "$work/straight.out") ||
  fail "the straight run's logged sizes are not the schedule's"
grep -q "evaluation at 64 px (shorter side 72, centre crop)" "$work/straight.out" ||
  fail "no resolution line in the log"
grep -q "r0\] WARNING: data: images stored at 64x64 are upsampled for sizes up to 72 px" \
  "$work/straight.out" || fail "no warning that eval_resize 72 upsamples the 64px images"
grep -E "data: |training at|Epoch: " "$work/straight.out"

# 12 steps per epoch (90 train images, 2 ranks x 4): step 17 is mid-epoch 2.
stop_then_resume "$work" "$stopped" 120 "${sizes[@]}"
diff <(expected_lines 2) <(logged_lines "$work/resume.out") ||
  fail "the resumed run's logged sizes are not the schedule's"
diff <(cut -d, -f1-6 "$work/runs/straight/metrics.csv") \
  <(cut -d, -f1-6 "$work/runs/stopped/metrics.csv") || fail "metrics differ after the resume"
echo "ok: logged sizes ${expected[*]}; stop at step 17 + resume"

best="$work/runs/straight/best.pt"
"$bin/nxt_eval" --checkpoint "$best" --data "$work/data.h5" --out "$work/eval" >"$work/eval.out" \
  2>&1 || { cat "$work/eval.out"; fail "nxt_eval failed"; }
py "
import h5py, os
from PIL import Image
with h5py.File('$work/data.h5') as f:
    for k, image in enumerate(f['val/images'][:]):
        Image.fromarray(image).save('$work/val_%03d.png' % k)
" || fail "cannot write the val images out"
"$bin/nxt_predict" --checkpoint "$best" --format jsonl --topk 3 "$work"/val_*.png \
  >"$work/pred.jsonl" 2>"$work/pred.err" || { cat "$work/pred.err"; fail "nxt_predict failed"; }
py "
import h5py, json, math, torch
a = torch.load('$work/runs/straight/last.pt')['model']
b = torch.load('$work/runs/stopped/last.pt')['model']
bad = [k for k in a if not torch.equal(a[k], b[k])]
assert a.keys() == b.keys() and not bad, 'parameters differ after the resume: %s' % bad[:5]
best = torch.load('$best')
p = best['preprocess']
epoch = best['best_epoch'] + 1
schedule = dict(enumerate([int(v) for v in open('$work/sizes.txt')], 1))
assert p['input_size'] == 64, p
assert abs(p['eval_crop_ratio'] - 64 / 72) < 1e-12, p
assert p['train_size'] == schedule[epoch], (p, epoch)
assert p['stored_size'] == [64, 64], p
m = json.load(open('$work/eval/metrics.json'))
assert abs(m['accuracy'] - best['best_val_acc']) < 1e-12, (m['accuracy'], best['best_val_acc'])
# Losses are summed in units of 1e-6 per sample (eval/totals.h); another thread count may move
# one sample's float loss across a unit.
assert abs(m['mean_loss'] - best['best_val_loss']) < 2e-6, (m['mean_loss'], best['best_val_loss'])
with h5py.File('$work/data.h5') as f:
    labels = list(f['val/labels'][:])
classes = best['classes']
losses = []
for line in open('$work/pred.jsonl'):
    r = json.loads(line)
    k = int(r['path'][-7:-4])
    probability = {t['class']: t['probability'] for t in r['top']}
    losses.append(-math.log(probability[classes[labels[k]]]))
assert len(losses) == len(labels) == m['images'], (len(losses), len(labels))
predicted = sum(losses) / len(losses)
assert abs(predicted - m['mean_loss']) < 2e-6, (predicted, m['mean_loss'])
print('identical parameters:', len(a), 'tensors; best.pt (epoch %d) preprocess %s' % (epoch, p))
print('nxt_eval: acc %.6f loss %.9f = the trainer\'s; nxt_predict: mean -log p %.9f' %
      (m['accuracy'], m['mean_loss'], predicted))
" || fail "checkpoint, nxt_eval or nxt_predict check"
echo "PASS: progressive resizing and evaluation size with random erasing, exact on resume"
