#!/usr/bin/env bash
# train.ema_decay end to end on 2 ranks (Note [EMA of the weights] in src/train/ema.h), with
# train.best_metric val_acc_ema:
#  - the log states the adjusted decay, the epoch line and metrics.csv carry the EMA's val
#    figures beside the raw ones, and they differ;
#  - best.pt is the epoch with the best val_acc_ema and holds the EMA ("weights": "ema"): the
#    trainer's --evaluate and nxt_eval on it give that epoch's val_loss_ema and val_acc_ema;
#    last.pt holds the raw weights with "ema" and "ema_updates"; summary.json says "ema";
#  - the test split is scored on best.pt's weights, the EMA's: test_metrics.json says so and
#    matches nxt_eval --split test on best.pt;
#  - a run stopped mid-epoch (NXT_STOP_AT_STEP, exit 75) and resumed with --resume auto ends
#    with last.pt's EMA, count, model, best.pt and metrics bitwise equal to an uninterrupted
#    run's.
# 78 train images over 2 ranks x batch 4: 10 steps per epoch, 40 in all; decay 1 - (1 - 0.95) x
# 8 x 3 / 4 = 0.7 per update every 3 steps, so the EMA lags the weights by a few steps. With
# warmup 1 the updates of epoch 1 (steps 3, 6, 9) copy, and so does the first after it (12):
# last.pt's ema_updates (torchvision's n_averaged) is then 10 (steps 12, 15, ..., 39), not 13.
# No epoch ends on an update before epoch 4 (steps 10, 20, 30 are not multiples of 3), so the
# EMA differs from the weights at every evaluation and best.pt's EMA is told from the raw one.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
"$bin/nxt_make_demo_images" --output "$work/images" --classes 3 --per-class 40 --size 32 \
  --seed 3 --easy >/dev/null || fail "make_demo_images"
"$bin/nxt_pack_hdf5" --input "$work/images" --output "$work/data.h5" --size 32 \
  --val-fraction 0.25 --test-fraction 0.1 --seed 3 --quiet >/dev/null 2>&1 || fail "pack_hdf5"
config=$(tiny_config "$work" ema)
ddp=("$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" --set run.threads_per_rank=1
     --set train.ema_decay=0.95 --set train.ema_every_steps=3 --set optim.warmup_epochs=1
     --set train.best_metric=val_acc_ema)

run_bounded 300 "$work/straight.out" "${ddp[@]}" --set run.name=straight >/dev/null
[[ $code -eq 0 ]] || { cat "$work/straight.out"; fail "the EMA run exited $code"; }
grep -q "EMA: decay 0.95 -> effective 0.7 per update every 3 step(s) (global batch 8, 4 epochs); it copies the weights during the 1 warmup epoch(s)" "$work/straight.out" ||
  { grep "EMA" "$work/straight.out"; fail "no EMA line with the adjusted decay 0.7"; }
grep -q ", 10 steps per epoch" "$work/straight.out" || fail "not 10 steps per epoch: the checks below assume it"
grep -qE "Test_loss: [0-9.]+, Test_acc_ema: [0-9.]+%, Test_loss_ema: [0-9.]+, Lr: " "$work/straight.out" ||
  fail "no Test_acc_ema / Test_loss_ema in the epoch line"
run="$work/runs/straight"
"$bin/nxt_eval" --checkpoint "$run/best.pt" --data "$work/data.h5" --split test --out "$work/test_eval" \
  >"$work/test_eval.out" 2>&1 || { cat "$work/test_eval.out"; fail "nxt_eval --split test failed"; }
best_epoch=$(py "
import csv, json, torch
rows = list(csv.DictReader(open('$run/metrics.csv')))
assert list(rows[0].keys())[-2:] == ['val_acc_ema', 'val_loss_ema'], list(rows[0].keys())
acc = [float(r['val_acc_ema']) for r in rows]
for r in rows:
    assert float(r['val_loss_ema']) != float(r['val_loss']), 'epoch %s: EMA val loss = raw' % r['epoch']
best = acc.index(max(acc)) + 1  # the first on ties
c = torch.load('$run/best.pt')
assert c['weights'] == 'ema' and 'ema' not in c, (c['weights'], 'ema' in c)
assert c['best_epoch'] + 1 == best and c['epoch'] == best, (c['best_epoch'], best)
assert abs(c['best_val_acc'] - acc[best - 1]) < 1e-6, (c['best_val_acc'], acc[best - 1])
last = torch.load('$run/last.pt')
assert last['weights'] == 'raw' and last['ema_updates'] == 10, (
    'last.pt: weights %s, ema_updates %d; want raw, 10 (warmup copies until step 12)' % (
        last['weights'], last['ema_updates']))
assert last['ema'].keys() == last['model'].keys()
if best == len(rows):  # best.pt was written with last.pt: its model is last.pt's EMA
    assert all(torch.equal(c['model'][k], last['ema'][k]) for k in c['model'])
assert json.load(open('$run/summary.json'))['best_weights'] == 'ema'
# The test split was scored on best.pt's weights: the EMA's, as nxt_eval --split test scores it.
t = json.load(open('$run/test_metrics.json'))
e = json.load(open('$work/test_eval/metrics.json'))
assert t['weights'] == 'ema' and t['epoch'] == best, (t['weights'], t['epoch'])
assert t['test_images'] == e['images'] > 0 and abs(t['test_accuracy'] - e['accuracy']) < 1e-9, (t, e)
print(best)
") || fail "metrics.csv, best.pt, last.pt or test_metrics.json do not hold the EMA as described"
echo "best val_acc_ema at epoch $best_epoch; best.pt holds the EMA"

# The weights in best.pt are the EMA's: evaluated again, they score that epoch's EMA figures.
want=$(awk -F, -v e="$best_epoch" 'NR == e + 1 { print $10, $11 }' "$run/metrics.csv")
run_bounded 120 "$work/evaluate.out" "${ddp[@]}" --set run.name=straight --evaluate "$run/best.pt" >/dev/null
[[ $code -eq 0 ]] || { cat "$work/evaluate.out"; fail "--evaluate best.pt exited $code"; }
got=$(sed -nE 's/.*val_acc=([0-9.]+) val_loss=([0-9.]+).*/\1 \2/p' "$work/evaluate.out")
py "
want, got = '$want'.split(), '$got'.split()
assert len(got) == 2 and all(abs(float(a) - float(b)) < 2e-6 for a, b in zip(want, got)), (want, got)
" || fail "--evaluate best.pt gives val acc, loss '$got', not the EMA's '$want' of epoch $best_epoch"
"$bin/nxt_eval" --checkpoint "$run/best.pt" --data "$work/data.h5" >"$work/eval.out" 2>&1 ||
  { cat "$work/eval.out"; fail "nxt_eval on best.pt failed"; }
grep -q "^accuracy   ${want% *} " "$work/eval.out" ||
  { cat "$work/eval.out"; fail "nxt_eval on best.pt does not report val_acc_ema ${want% *}"; }
echo "ok: --evaluate and nxt_eval on best.pt give epoch $best_epoch's val_acc_ema, val_loss_ema ($want)"

# Stopped mid-epoch 2, right after an EMA update (step 18), and resumed: the same EMA, bit for bit.
NXT_STOP_AT_STEP=18 NXT_EXIT_STATUS_FILE="$work/status" \
  run_bounded 300 "$work/stop.out" "${ddp[@]}" --set run.name=resumed >/dev/null
expect_checkpointed_stop SIGUSR2 "$work/stop.out" "$work/runs/resumed" "$work/status" 2
run_bounded 300 "$work/resume.out" "${ddp[@]}" --set run.name=resumed --resume auto >/dev/null
[[ $code -eq 0 ]] || { cat "$work/resume.out"; fail "the resumed run exited $code"; }
py "
import torch
a = torch.load('$run/last.pt')
b = torch.load('$work/runs/resumed/last.pt')
best_a = torch.load('$run/best.pt')['model']
best_b = torch.load('$work/runs/resumed/best.pt')['model']
for what, x, y in (('last.pt model', a['model'], b['model']), ('last.pt ema', a['ema'], b['ema']),
                   ('best.pt model (the EMA)', best_a, best_b)):
    assert x.keys() == y.keys(), what
    bad = [k for k in x if not torch.equal(x[k], y[k])]
    assert not bad, '%s: tensors differ: %s' % (what, bad[:5])
assert a['ema_updates'] == b['ema_updates'], 'ema_updates: straight %d, resumed %d' % (
    a['ema_updates'], b['ema_updates'])
print('identical model, EMA and best.pt:', len(a['ema']), 'tensors each,', a['ema_updates'],
      'updates averaged')
" || fail "the resumed run's weights or EMA differ from the uninterrupted run's"
cut -d, -f1-6,10,11 "$run/metrics.csv" >"$work/a.csv"
cut -d, -f1-6,10,11 "$work/runs/resumed/metrics.csv" >"$work/b.csv"
diff "$work/a.csv" "$work/b.csv" || fail "the resumed run's metrics (raw or EMA) differ"
# Resumed for a 5th epoch judging the raw weights (best_metric val_acc): the saved best is the
# EMA's, so it starts over and epoch 5 writes a raw best.pt, whatever its accuracy.
cp -r "$run" "$work/runs/switched"
run_bounded 300 "$work/switched.out" "${ddp[@]}" --set run.name=switched --resume auto \
  --set train.best_metric=val_acc --set train.epochs=5 >/dev/null
[[ $code -eq 0 ]] || { cat "$work/switched.out"; fail "the run resumed with best_metric val_acc exited $code"; }
grep -q "picked best.pt by val_acc_ema, this run by val_acc (other weights): the best starts over" \
  "$work/switched.out" || fail "no warning that the best starts over for the other weights"
py "
import torch
c = torch.load('$work/runs/switched/best.pt')
assert c['weights'] == 'raw' and c['best_epoch'] + 1 == 5, (c['weights'], c['best_epoch'] + 1)
" || fail "after switching best_metric to val_acc, best.pt is not epoch 5's raw weights"
echo "PASS: the EMA is validated, picks best.pt and resumes exactly"
