#!/usr/bin/env bash
# The ranks' same-dataset check (Trainer::start_communicator): on 2 fake nodes x 2 ranks, each
# node has its own file at the SAME data.path (a private folder per node), and the second
# node's is a different dataset (a stale node-local copy). The job must fail within 30 s,
# before any rank trains (no `placement:` line: every rank stops at the check), with a message
# naming ranks 2 and 3 (the second node's) and not rank 1 (rank 0's node-mate).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
require_fake_nodes
first=$(node_name 1) second=$(node_name 2)
mkdir -p "$work/current" "$work/stale" "$work/data" "$work/nodes/$first" "$work/nodes/$second"
make_tiny_dataset "$work/current" 10
make_tiny_dataset "$work/stale" 8  # other images: another fingerprint
cp "$work/current/data.h5" "$work/nodes/$first/data.h5"
cp "$work/stale/data.h5" "$work/nodes/$second/data.h5"
export NXT_FAKE_PRIVATE_DIR="$work/data" NXT_FAKE_PRIVATE_ROOT="$work/nodes"
fake_launch 2 2
run_bounded 60 "$work/out" "${fake_mpirun[@]}" "$bin/nxt_ddp" \
  --config "$(tiny_config "$work" stale)" --set data.path="$work/data/data.h5" \
  --set run.threads_per_rank=1
expect_clean_failure 60
check_nodes_launched 2
grep -qF "opened different datasets at data.path '$work/data/data.h5'" "$work/out" ||
  fail "no message about different datasets at data.path"
grep -qF "rank(s) 2, 3 read a file whose fingerprint differs from rank 0's (2 of 4 ranks)" \
  "$work/out" || fail "the message does not name ranks 2 and 3 (and only them)"
! grep -q "placement:" "$work/out" ||
  fail "a rank went past the dataset check: $(placement_lines "$work/out")"
echo "PASS: a stale copy on $second: exit $code after ${elapsed}s, ranks 2 and 3 named"
