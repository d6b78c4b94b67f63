#!/usr/bin/env bash
# Under a real 2-rank mpirun, a config error must end the whole job quickly with a non-zero exit
# and a message that names the file, line and key (and suggests the right key).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
printf 'run:\n  name: t\ndata:\n  batch_sise: 4\n' >"$work/bad.yaml"
run_bounded 30 "$work/out" "$nxt_mpirun" -np 2 "$1" --config "$work/bad.yaml"
expect_clean_failure 30
grep -q "bad.yaml:4: unknown key 'data.batch_sise' (did you mean 'data.batch_size'?)" "$work/out" ||
  fail "message does not name file:line, key and suggestion"
echo "PASS: exit $code after ${elapsed}s"
