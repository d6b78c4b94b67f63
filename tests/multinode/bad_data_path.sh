#!/usr/bin/env bash
# A wrong data.path on a 2-node job fails fast and clearly: non-zero within 30 s, the output
# names the path, and no rank printed a `placement:` line, because the dataset is checked before
# the communicator is created (no rank is left waiting in a collective on the other node).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
require_fake_nodes
make_tiny_dataset "$work" 10
missing=/nonexistent/x.h5
fake_launch 2 1
run_bounded 60 "$work/out" "${fake_mpirun[@]}" "$bin/nxt_ddp" \
  --config "$(tiny_config "$work" bad_path)" --set run.threads_per_rank=1 --set data.path=$missing
expect_clean_failure 30
check_nodes_launched 2
grep -qF "$missing" "$work/out" || fail "the output does not name $missing"
! grep -q "placement:" "$work/out" || fail "a rank got as far as the communicator: $(placement_lines "$work/out")"
echo "PASS: wrong data.path: exit $code after ${elapsed}s, path named, no placement line"
