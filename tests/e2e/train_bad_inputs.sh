#!/usr/bin/env bash
# Each bad input ends the whole 2-rank job within 30 s, non-zero, with a clear message:
# missing and corrupt datasets, an unknown key, a num_classes mismatch, a checkpoint of another
# model or of another dataset (the same images packed with another split), one rank 0 cannot
# read, an unwritable output folder, a node copy whose writer fails, a NaN loss (and no checkpoint of the NaN step or later is
# written), and a rank killed with SIGKILL mid-epoch.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
make_tiny_dataset "$work" 30
config=$(tiny_config "$work" bad)
ddp=("$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config")

expect() {  # expect NAME PATTERN ARGS...: the job fails cleanly and prints PATTERN
  local name=$1 pattern=$2
  shift 2
  run_bounded 60 "$work/$name.out" "${ddp[@]}" "$@" >/dev/null
  expect_clean_failure 30
  grep -qE "$pattern" "$work/$name.out" || { cat "$work/$name.out"; fail "$name: no message matching '$pattern'"; }
  echo "ok: $name (exit $code, ${elapsed}s)"
}

expect missing_dataset "'$work/none.h5' does not exist" --set data.path="$work/none.h5"
head -c 3000 "$work/data.h5" >"$work/corrupt.h5"
expect corrupt_dataset "corrupt\\.h5'.*(truncated|corrupt|not an HDF5)" --set data.path="$work/corrupt.h5"
expect unknown_key "unknown key 'train.epohcs' \\(did you mean 'train.epochs'\\?\\)" --set train.epohcs=2
expect classes_mismatch "model.num_classes is 5 but .* has 3 classes" --set model.num_classes=5
# The node copy's writer fails (its folder cannot be made): the waiting rank stops at once,
# naming the rank that failed, instead of waiting out dist.rank0_phase_timeout_s (1 hour).
expect node_copy_fails "node copy of the train split failed on rank\(s\) 0" \
  --set data.stage_dir=/proc/nxt-no-such-folder
run_bounded 120 "$work/first.out" "${ddp[@]}" --set train.epochs=1 >/dev/null
[[ $code -eq 0 ]] || fail "could not make a checkpoint"
# A refused resume leaves the run folder as it was (its config.yaml, log and metrics).
run_files() { cat "$work/runs/bad/config.yaml" "$work/runs/bad/log.txt" "$work/runs/bad/metrics.csv" | md5sum; }
before=$(run_files)
expect other_model "checkpoint '.*last.pt' is of another model" --set model.blocks=[2,1] --resume auto
"$bin/nxt_pack_hdf5" --input "$work/images" --output "$work/other.h5" --size 32 \
  --val-fraction 0.3 --seed 3 --quiet >/dev/null 2>&1 || fail "could not pack other.h5"
expect other_dataset "checkpoint '$work/runs/bad/last.pt' was trained on another dataset \(fingerprint [0-9a-f]+, this one is [0-9a-f]+\)" \
  --set data.path="$work/other.h5" --resume auto
[[ $(run_files) == "$before" ]] || fail "a refused resume changed the run folder's config.yaml, log.txt or metrics.csv"
# Only rank 0 reads a checkpoint (Note [Collective order]): one it cannot read fails every rank
# with rank 0's reason, naming the file.
expect unreadable_checkpoint "rank 1\] FATAL: rank 0: cannot read .$work/none.pt.: " \
  --resume "$work/none.pt"
touch "$work/a_file"
expect unwritable_output "cannot create folder|Not a directory|cannot write" --set run.out_dir="$work/a_file/runs"
# A checkpoint every step: each one before the NaN step is written, none of it or after.
expect nan_loss "loss is NaN or Inf at epoch 1, step [0-9]+ on some rank; no checkpoint was written for it" \
  --set optim.lr=1e12 --set run.name=nan --set train.checkpoint_every_steps=1
nan_step=$(sed -nE 's/.*loss is NaN or Inf at epoch 1, step ([0-9]+) .*/\1/p' "$work/nan_loss.out" | head -1)
py "
import os, torch
run = '$work/runs/nan'
for name in ('last.pt', 'best.pt'):
    path = os.path.join(run, name)
    if os.path.exists(path):
        step = torch.load(path)['global_step']
        assert step < $nan_step, '%s holds step %d: the NaN was at step $nan_step' % (name, step)
        print('%s: step %d, before the NaN step $nan_step' % (name, step))
assert $nan_step == 1 or os.path.exists(os.path.join(run, 'last.pt')), 'no last.pt before the NaN step'
" || fail "a checkpoint of the NaN step (or later) was written"

# A rank killed mid-epoch ends the job.
"${ddp[@]}" --set train.epochs=50 --set run.name=killed >"$work/killed.out" 2>&1 &
job=$!
for _ in $(seq 300); do grep -q "epoch 1 \[" "$work/killed.out" 2>/dev/null && break; sleep 0.1; done
start=$(date +%s)
signal_rank KILL 1 "$config"
for _ in $(seq 300); do kill -0 $job 2>/dev/null || break; sleep 0.1; done
kill -0 $job 2>/dev/null && { kill -KILL $job; fail "the job hung after a rank was killed"; }
wait $job
code=$?
[[ $code -ne 0 ]] || fail "the job exited 0 after a rank was killed"
echo "ok: killed rank (exit $code, $(( $(date +%s) - start ))s)"
echo "PASS: every bad input ended the job cleanly"
