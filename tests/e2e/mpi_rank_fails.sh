#!/usr/bin/env bash
# A rank that throws in the middle of backward (while the other rank waits in an all-reduce)
# must end the whole mpirun job within 30 s, non-zero, with its message.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
run_bounded 60 "$out" "$nxt_mpirun" -np 2 "$1" --throw-in-backward-on-rank=1
expect_clean_failure 30
grep -q "rank 1.*injected failure in backward at step 2" "$out" || fail "rank 1's message is missing"
echo "PASS: exit $code after ${elapsed}s"
