#!/usr/bin/env bash
# train.checkpoint_every_minutes: rank 0's clock decides, every rank takes the checkpoint (it
# all-reduces the epoch's totals: a rank that missed it would hang the job), and last.pt is
# written mid-epoch with no step interval set. Rank 0 dies (NXT_CRASH_AT_STEP, which waits for
# the checkpoint being written) at step 6 of 8, before the epoch's own checkpoint: without the
# key no last.pt is left; with 0.0005 minutes (30 ms, about a step here, so due within the first
# steps on any machine) one is, of a step in the middle of epoch 1.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
make_tiny_dataset "$work" 30  # 8 steps per epoch
config=$(tiny_config "$work" timed)
ddp=("$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" --set run.threads_per_rank=1
     --set train.epochs=1)

NXT_CRASH_AT_STEP=6 run_bounded 120 "$work/off.out" "${ddp[@]}" --set run.name=off >/dev/null
[[ $code -ne 0 ]] || fail "the crash hook did not end the run"
[[ ! -f "$work/runs/off/last.pt" ]] || fail "last.pt mid-epoch without train.checkpoint_every_minutes"

NXT_CRASH_AT_STEP=6 run_bounded 120 "$work/on.out" "${ddp[@]}" --set run.name=on \
  --set train.checkpoint_every_minutes=0.0005 >/dev/null
[[ $code -ne 0 ]] || fail "the crash hook did not end the run"
[[ -f "$work/runs/on/last.pt" ]] || { cat "$work/on.out"; fail "no last.pt written by time"; }
py "
import torch
c = torch.load('$work/runs/on/last.pt')
print('last.pt by time: epoch', c['epoch'], 'step', c['step_in_epoch'], 'samples seen', c['epoch_seen'])
assert c['epoch'] == 0 and 1 <= c['step_in_epoch'] <= 6, (c['epoch'], c['step_in_epoch'])
assert c['global_step'] == c['step_in_epoch'] and c['epoch_seen'] > 0, c['epoch_seen']
" || fail "the time-based last.pt is not a mid-epoch checkpoint of epoch 1"
echo "PASS: train.checkpoint_every_minutes writes last.pt mid-epoch"
