#!/usr/bin/env bash
# nxt_ddp --preflight with a rank that stops for good (Note [Watchdog] in src/comm/communicator.h),
# dist.timeout_s: 5 (below the preflight's 120 s cap, so the messages name dist.timeout_s):
#  (a) 2 fake nodes x 1 rank, NXT_HANG_BEFORE_COMM_START_RANK=1: rank 1 never joins the start-up
#      of the node and leader communicators (Note [Node communicators that cannot hang] in
#      src/preflight/nodes.h). Rank 0's polled wait for every rank must end the job non-zero
#      within 5 + 10 s of rank 0 reaching it, naming rank 0, that wait and the limit (a plain
#      MPI_Comm_split there would wait for ever: the job is killed by the timeout below);
#  (b) 2 fake nodes x 2 ranks, NXT_HANG_BEFORE_PREFLIGHT_RING_RANK=3: rank 3 never joins its
#      node's all-reduce (Note [Bounded node ring] in src/preflight/bandwidth.cpp). Rank 2, its
#      node's other rank, must end the job in the node communicator's 64 MB all-reduce, and its
#      message must name it as rank 2, its rank in the job (it is rank 0 of its node's
#      communicator: a message naming "rank 0" would send the user to the wrong node).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
require_fake_nodes
make_tiny_dataset "$work" 10
timeout_s=5
args=(--config "$(tiny_config "$work" preflight_hang)" --preflight --preflight-seconds 1
      --set run.threads_per_rank=1 --set dist.timeout_s=$timeout_s)

# run_until_it_ends OUT MARK HOOK...: starts the job with the hook set (-x VAR=VALUE for
# mpirun), waits for rank 0 to print MARK, then for the job to end; sets code, and ended (the
# seconds from MARK to the end).
run_until_it_ends() {
  local out=$1 mark=$2 reached job
  shift 2
  timeout 120 "${fake_mpirun[@]}" "$@" "$bin/nxt_ddp" "${args[@]}" >"$out" 2>&1 &
  job=$!
  wait_for 90 grep -qF "$mark" "$out" ||
    { cat "$out"; fail "rank 0 did not print '$mark' in 90 s"; }
  reached=$(date +%s.%N)
  wait "$job"
  code=$?
  ended=$(awk -v a="$reached" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  cat "$out"
  [[ $code -ne 0 ]] || fail "the job exited 0"
  [[ $code -ne 124 ]] || fail "the job hung (killed by the timeout)"
}
limit="has not finished after ([5-9]|1[0-9])\.[0-9] s \(dist.timeout_s = $timeout_s\)"

# (a) a rank that never arrives at the node and leader communicators
fake_launch 2 1
run_until_it_ends "$work/out_comms" "preflight: node and leader communicators" \
  -x NXT_HANG_BEFORE_COMM_START_RANK=1
check_nodes_launched 2
arrive="the preflight's node and leader communicators \(waiting for every rank to arrive\)"
grep -qE "rank 0: $arrive $limit" "$work/out_comms" ||
  fail "no message naming rank 0, the wait for every rank and dist.timeout_s = $timeout_s"
awk -v e="$ended" -v l=$((timeout_s + 10)) 'BEGIN { exit !(e <= l) }' ||
  fail "the job ended ${ended}s after rank 0 began to wait (limit timeout + 10 s)"
echo "ok (a): a rank that never arrived ended the job ${ended}s after rank 0 began to wait," \
  "exit $code"

# (b) a rank that never joins its node's all-reduce, on the second node
fake_launch 2 2
run_until_it_ends "$work/out_ring" "preflight: round 1 of 3" \
  -x NXT_HANG_BEFORE_PREFLIGHT_RING_RANK=3
check_nodes_launched 2
ring="all-reduce (#[0-9]+ )?of 67\.1 MB"
grep -qE "rank 2: $ring.* $limit" "$work/out_ring" ||
  fail "no message naming rank 2 (its rank in the job), the 64 MB all-reduce and the limit"
! grep -qE "rank 0: $ring" "$work/out_ring" ||
  fail "a message names rank 0 in the 64 MB all-reduce: node 0's ring completed, so that is" \
    "rank 2 named by its rank on its node"
awk -v e="$ended" -v l=$((timeout_s + 20)) 'BEGIN { exit !(e <= l) }' ||
  fail "the job ended ${ended}s after round 1 began (limit timeout + 20 s)"
echo "PASS: preflight: a rank missing the node communicators' start-up or its node's all-reduce" \
  "ends the job within dist.timeout_s, the messages naming ranks in the job"
