#!/usr/bin/env bash
# Checkpoint writes are atomic (temp file, fsync, rename: src/common/fs.cpp):
#  1. rank 0 killed (SIGKILL) while last.pt's temp file exists leaves the previous last.pt in
#     place and whole: it loads in Python, it is the previous checkpoint's step, and a
#     --resume auto continues from it. NXT_PAUSE_IN_CHECKPOINT_WRITE_S holds every checkpoint
#     write between its temp file and the rename, so the kill lands inside the write every time.
#     The write runs in the background (Note [Background checkpoints] in
#     src/checkpoint/async_writer.h): while the pause holds it, training goes on.
#  2. rank 0 killed at arbitrary moments (no pause, a checkpoint every step): last.pt, and
#     best.pt when there is one, still load.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
make_tiny_dataset "$work" 30  # 8 steps per epoch
config=$(tiny_config "$work" killed)
run="$work/runs/killed"
ddp=("$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" --set run.threads_per_rank=1
     --set train.epochs=100)

# keep NAME: copies the checkpoints that survived a kill into $work/kept, to be loaded in
# Python at the end (one interpreter start for all: importing torch takes seconds).
mkdir "$work/kept"
keep() {
  [[ -f "$run/last.pt" ]] || fail "no last.pt after the kill $1"
  cp "$run/last.pt" "$work/kept/$1.last.pt"
  [[ ! -f "$run/best.pt" ]] || cp "$run/best.pt" "$work/kept/$1.best.pt"
}

# 1. Checkpoints at steps 3 and 6, each write paused 30 s before its rename (the kill ends the
# pause; 30 s leaves a loaded machine ample time to find rank 0): once last.pt (step 3) is
# published, the next temp file is step 6's write; rank 0 dies inside it.
NXT_PAUSE_IN_CHECKPOINT_WRITE_S=30 "${ddp[@]}" --set train.checkpoint_every_steps=3 \
  --set train.log_every_steps=1 >"$work/out" 2>&1 &
job=$!
# Step 3's write is held for 30 s: steps 4 and 5 train (and are logged) meanwhile, and only the
# next checkpoint, step 6's, waits for it. A write on the training thread logs step 5 only
# after the pause, when last.pt exists.
wait_for 60 grep -q '"step":5[,}]' "$run/train_log.jsonl" ||
  { cat "$work/out"; fail "step 5 was not logged within 60 s"; }
[[ ! -f "$run/last.pt" ]] || fail "step 5 was logged only after step 3's last.pt was published: the write is not in the background"
echo "ok: step 5 logged while step 3's checkpoint write was held"
wait_for 120 test -f "$run/last.pt" || { cat "$work/out"; fail "no last.pt after 120 s"; }
wait_for 60 compgen -G "$run/last.pt.tmp.*" || { cat "$work/out"; fail "no second checkpoint write"; }
rank0=$(rank_pid 0 "$config") || fail "rank 0's process not found"
kill -KILL "$rank0" || fail "could not kill rank 0 (pid $rank0)"
wait $job
code=$?
[[ $code -ne 0 ]] || fail "the job exited 0 after rank 0 was killed"
[[ -f "$run/last.pt.tmp.$rank0" ]] || fail "rank 0's temp file is gone: the kill missed the write"
py "
import torch
step = torch.load('$run/last.pt')['global_step']
assert step == 3, 'last.pt holds step %d, not the previous checkpoint\'s step 3' % step
" || fail "last.pt does not load after a kill inside its rewrite, or is not the previous one"
echo "ok: killed inside the step-6 write (exit $code); last.pt is step 3's and loads"

# 2. Kills at arbitrary moments, each run resuming from the last (the first from step 3, past
# the temp file left by the kill above).
for delay in 0.05 0.2 0.45; do
  "${ddp[@]}" --set train.checkpoint_every_steps=1 --resume auto >"$work/out" 2>&1 &
  job=$!
  wait_for 120 grep -q "resumed from $run/last.pt" "$work/out" || { cat "$work/out"; fail "did not resume"; }
  [[ $delay != 0.05 ]] || grep -q "resumed from $run/last.pt: epoch 1, step 3/" "$work/out" ||
    fail "the first resume is not from step 3"
  sleep "$delay"
  rank0=$(rank_pid 0 "$config") || fail "rank 0's process not found"
  kill -KILL "$rank0" || fail "could not kill rank 0 (pid $rank0)"
  wait $job
  keep "at+$delay"
  echo "ok: killed at +${delay}s after the resume"
done
py "
import glob, torch
for path in sorted(glob.glob('$work/kept/*.pt')):
    c = torch.load(path)
    assert c['format'] == 'nxt-checkpoint', path
    print('loads:', path.split('/')[-1], 'step', c['global_step'])
" || fail "a checkpoint left by a kill does not load"
echo "PASS: a kill inside a checkpoint write keeps the previous checkpoint"
