#!/usr/bin/env bash
# Note [Watchdog] (src/comm/communicator.h) at the communicator's start-up: on 2 fake nodes,
# rank 1 (second node) never joins (NXT_HANG_BEFORE_COMM_START_RANK=1: it sleeps before creating
# its communicator). With dist.timeout_s: 5, rank 0's start-up must end the job non-zero within
# 5 + 10 s of rank 0 reaching it (its `data:` line comes just before), with a message naming
# rank 0, the start-up and the time waited (at least the timeout).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
require_fake_nodes
make_tiny_dataset "$work" 10
timeout_s=5
fake_launch 2 1
timeout 90 "${fake_mpirun[@]}" -x NXT_HANG_BEFORE_COMM_START_RANK=1 "$bin/nxt_ddp" \
  --config "$(tiny_config "$work" never_joins)" --set run.threads_per_rank=1 \
  --set dist.timeout_s=$timeout_s >"$work/out" 2>&1 &
job=$!
rank0_at_start_up() { grep -qF "data: $work/data.h5" "$work/out"; }
wait_for 60 rank0_at_start_up || { cat "$work/out"; fail "rank 0 did not reach the start-up in 60 s"; }
reached=$(date +%s.%N)
wait "$job"
code=$?
ended=$(awk -v a="$reached" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
cat "$work/out"
check_nodes_launched 2
[[ $code -ne 0 ]] || fail "the job exited 0"
[[ $code -ne 124 ]] || fail "the job hung at start-up (killed by the timeout)"
start_up="start-up of the MPI communicator \(waiting for every rank to join\)"
grep -qE "rank 0: $start_up has not finished after ([5-9]|1[0-9])\.[0-9] s \(dist.timeout_s = $timeout_s\)" \
  "$work/out" || fail "no watchdog message naming rank 0, the start-up and the time waited"
awk -v e="$ended" -v l=$((timeout_s + 10)) 'BEGIN { exit !(e <= l) }' ||
  fail "the job ended ${ended}s after rank 0 reached the start-up (limit timeout + 10 s)"
echo "PASS: a rank that never joined ended the job ${ended}s after the start-up began" \
  "(dist.timeout_s = $timeout_s), exit $code"
