#!/usr/bin/env bash
# SIGTERM and SIGINT stop a run as train.stop_signal (SIGUSR2, tests/e2e/train_resume.sh) does:
# sent to one rank, every rank stops at the same step, rank 0 writes that step's last.pt, and
# every rank exits 75 (src/train/stop_signals.h). A second SIGINT (Ctrl-C twice) exits at once
# with 130: NXT_PAUSE_IN_CHECKPOINT_WRITE_S holds the stop's checkpoint write for 30 s, and the
# second SIGINT, sent once that write's temp file exists (so the first has surely arrived and
# is being acted on), must end the job within seconds, without publishing last.pt.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
make_tiny_dataset "$work" 60  # 17 steps per epoch
config=$(tiny_config "$work" signals)

# start_job NAME: starts a run named NAME in the background ($job; output in $work/NAME.out,
# rank 0's exit status in $work/NAME.status) and returns once it trains.
start_job() {
  NXT_EXIT_STATUS_FILE="$work/$1.status" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" \
    --set run.threads_per_rank=1 --set train.epochs=100 --set run.name="$1" >"$work/$1.out" 2>&1 &
  job=$!
  wait_for 120 grep -q "all layers train" "$work/$1.out" || { cat "$work/$1.out"; fail "$1: no training"; }
}

# One signal: to rank 1 (TERM) and to rank 0 (INT), so both directions of the agreement count.
for case in "TERM 1" "INT 0"; do
  read -r signal rank <<<"$case"
  start_job "$signal"
  signal_rank "$signal" "$rank" "$config"
  wait $job
  code=$?
  expect_checkpointed_stop "SIG$signal" "$work/$signal.out" "$work/runs/$signal" "$work/$signal.status" 2
done

# Two SIGINTs: the second one lands while rank 0 writes the checkpoint the first one asked for
# (or, should epoch 1 end first, its best.pt: the second SIGINT must end the job there too).
NXT_PAUSE_IN_CHECKPOINT_WRITE_S=30 start_job twice
run="$work/runs/twice"
rank0=$(rank_pid 0 "$config") || fail "rank 0's process not found"
kill -INT "$rank0" || fail "could not send the first SIGINT"
wait_for 60 compgen -G "$run/*.pt.tmp.*" || { cat "$work/twice.out"; fail "no checkpoint write after the first SIGINT"; }
kill -INT "$rank0" || fail "could not send the second SIGINT"
sent=$(date +%s)
wait $job
code=$?
ended=$(( $(date +%s) - sent ))
cat "$work/twice.out"
[[ $code -eq 130 ]] || fail "after a second SIGINT the launcher exited $code, not 130"
grep -qE "Process name: \[\[[0-9]+,[0-9]+\],0\]" "$work/twice.out" && grep -qE "Exit code: +130" "$work/twice.out" ||
  fail "mpirun does not report rank 0's exit code 130"
[[ $ended -le 15 ]] || fail "the job ended ${ended}s after the second SIGINT (the write pauses 30 s)"
[[ ! -f "$run/last.pt" ]] || fail "last.pt was published although the second SIGINT came first"
[[ ! -f "$work/twice.status" ]] || fail "rank 0 wrote an exit status after _exit(130): $(cat "$work/twice.status")"
echo "PASS: SIGTERM and SIGINT checkpoint and exit 75; a second SIGINT exits 130 within ${ended}s"
