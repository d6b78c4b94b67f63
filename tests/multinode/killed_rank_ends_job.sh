#!/usr/bin/env bash
# A rank on the second node killed with SIGKILL in the middle of training (the others then wait
# for it in an all-reduce over TCP) must end the whole 2-node job, non-zero, in under 60 s:
# nothing may hang waiting for a peer that is gone. Prints the measured time to fail.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
require_fake_nodes
make_tiny_dataset "$work" 60
cfg=$(tiny_config "$work" killed)
fake_launch 2 1
start=$(date +%s)
timeout 180 "${fake_mpirun[@]}" "$bin/nxt_ddp" --config "$cfg" --set run.threads_per_rank=1 \
  --set train.epochs=20 >"$work/out" 2>&1 &
job=$!
training() { grep -q "epoch [0-9]* \[.*\] [1-9]" "$work/out"; }
wait_for 120 training || { cat "$work/out"; fail "no training progress line within 120 s"; }
pid=$(rank_pid 1 "$cfg") || { cat "$work/out"; fail "no process of rank 1"; }
host=$(host_of "$pid")
[[ $host == "$(node_name 2)" ]] || fail "rank 1 (pid $pid) runs on '$host', not $(node_name 2)"
echo "killing rank 1 (pid $pid on $host) with SIGKILL, $(( $(date +%s) - start ))s after the start"
killed_at=$(date +%s.%N)
kill -KILL "$pid" || fail "cannot kill rank 1 (pid $pid)"
job_running() { kill -0 "$job" 2>/dev/null; }
wait_for 90 eval '! job_running'
ended_at=$(date +%s.%N)
wait "$job"
code=$?
cat "$work/out"
check_nodes_launched 2
elapsed=$(awk -v a="$killed_at" -v b="$ended_at" 'BEGIN { printf "%.1f", b - a }')
echo "time to fail after the SIGKILL: ${elapsed}s (mpirun exit $code)"
[[ $code -ne 0 ]] || fail "the job exited 0 after a rank was killed"
[[ $code -ne 124 ]] || fail "the job hung after a rank was killed (killed by the timeout)"
awk -v e="$elapsed" 'BEGIN { exit !(e < 60) }' || fail "the job took ${elapsed}s to end (limit 60 s)"
echo "PASS: a SIGKILLed rank on the second node ended the 2-node job (exit $code) in ${elapsed}s"
