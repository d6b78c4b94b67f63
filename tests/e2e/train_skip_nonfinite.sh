#!/usr/bin/env bash
# train.skip_nonfinite: a step whose loss is NaN on one rank is skipped on every rank and the run
# goes on. NXT_NAN_AT_STEP=5 makes rank 1's loss NaN at global step 5 (and so, after the
# all-reduce, every rank's gradients). Without skip_nonfinite the same hook ends the run, naming
# step 5 (the hook works); with it, both ranks log the skip of step 5 and of no other step, the
# run exits 0 after all its steps, dist.check_replicas_every: 1 finds the ranks' parameters
# bitwise equal after every step, and the final parameters and logged losses are finite.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
make_tiny_dataset "$work" 30
config=$(tiny_config "$work" skip)
ddp=("$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" --set run.threads_per_rank=1
     --set train.epochs=2 --set dist.check_replicas_every=1)

NXT_NAN_AT_STEP=5 run_bounded 120 "$work/nan.out" "${ddp[@]}" --set run.name=nan >/dev/null
expect_clean_failure 60
grep -q "loss is NaN or Inf at epoch 1, step 5 on some rank" "$work/nan.out" ||
  { cat "$work/nan.out"; fail "NXT_NAN_AT_STEP=5 did not make step 5's loss NaN"; }
echo "ok: without skip_nonfinite the NaN at step 5 ends the run (exit $code)"

NXT_NAN_AT_STEP=5 run_bounded 300 "$work/out" "${ddp[@]}" --set train.skip_nonfinite=true
[[ $code -eq 0 ]] || fail "the run with skip_nonfinite exited $code"
for rank in 0 1; do
  grep -q "r$rank\] .*skipping step 5: NaN or Inf loss" "$work/out" || fail "rank $rank did not skip step 5"
done
[[ $(grep -c "skipping step" "$work/out") -eq 2 ]] || fail "steps other than 5 were skipped"
steps_per_epoch=$(sed -nE 's/.* ([0-9]+) steps per epoch$/\1/p' "$work/out")
run="$work/runs/skip"
py "
import csv, math, torch
c = torch.load('$run/last.pt')
assert c['global_step'] == 2 * $steps_per_epoch, 'last.pt is at step %d' % c['global_step']
bad = [k for k, t in c['model'].items() if t.is_floating_point() and not torch.isfinite(t).all()]
assert not bad, 'non-finite parameters: %s' % bad[:5]
rows = list(csv.DictReader(open('$run/metrics.csv')))
assert len(rows) == 2 and all(math.isfinite(float(r[k])) for r in rows for k in ('train_loss', 'val_loss')), rows
print('after the skipped step: %d steps, finite parameters and losses' % c['global_step'])
" || fail "the run did not go on with finite parameters after the skipped step"
echo "PASS: a NaN step on one rank is skipped on every rank and the run goes on"
