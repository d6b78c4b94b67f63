#!/usr/bin/env bash
# train.amp fp16's dynamic loss scaling (train/loss_scaler.h) in the trainer, on CPU through the
# NXT_CPU_LOSS_SCALE_GROWTH_INTERVAL=4 hook: NXT_NAN_AT_STEP=5 makes rank 1's loss NaN at step 5,
# so after the all-reduce every gradient overflows; both ranks must skip step 5 (the flag goes
# through the per-step all-reduce; dist.check_replicas_every: 1 finds the ranks' parameters
# bitwise equal after every step), the scale grows after steps 4, 9, 13, ... and halves at 5, and
# last.pt holds GradScaler's state. A run stopped at step 7 and resumed must end with the same
# scale and growth tracker (a resume that lost them would be 2 steps off in the tracker).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
make_tiny_dataset "$work" 30
config=$(tiny_config "$work" scaling)
ddp=("$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" --set run.threads_per_rank=1
     --set train.epochs=2 --set dist.check_replicas_every=1)
export NXT_CPU_LOSS_SCALE_GROWTH_INTERVAL=4 NXT_NAN_AT_STEP=5

run_bounded 300 "$work/out" "${ddp[@]}" --set run.name=straight
[[ $code -eq 0 ]] || { tail -20 "$work/out"; fail "the scaled run exited $code"; }
grep -q "inf/NaN gradients at step 5 .*loss scale 131072 -> 65536" "$work/out" ||
  { grep -i "fp16\|scale" "$work/out"; fail "step 5 was not skipped with a backoff from 131072"; }
[[ $(grep -c "inf/NaN gradients at step" "$work/out") -eq 1 ]] || fail "steps other than 5 were skipped"

NXT_STOP_AT_STEP=7 run_bounded 300 "$work/stop.out" "${ddp[@]}" --set run.name=resumed
[[ $code -ne 0 ]] || fail "NXT_STOP_AT_STEP=7 did not stop the run"
unset NXT_NAN_AT_STEP
run_bounded 300 "$work/resume.out" "${ddp[@]}" --set run.name=resumed --resume auto
[[ $code -eq 0 ]] || { tail -20 "$work/resume.out"; fail "the resumed run exited $code"; }

py "
import torch
for name in ('straight', 'resumed'):
    c = torch.load('$work/runs/%s/last.pt' % name)
    n = c['global_step']
    # GradScaler's rule, growth_interval 4: x2 after step 4, x0.5 at step 5, then x2 every 4 steps.
    want = (65536.0 * 2 ** ((n - 5) // 4), (n - 5) % 4)
    got = (c['loss_scale'], c['loss_scale_growth_tracker'])
    assert got == want, '%s: %d steps, (scale, tracker) %s, want %s' % (name, n, got, want)
    print('%s: %d steps, loss scale %g, growth tracker %d' % (name, n, got[0], got[1]))
" || fail "last.pt does not hold the scaler state GradScaler would have"
echo "PASS: every rank skips the overflowing step, the scale follows GradScaler, and resumes exactly"
