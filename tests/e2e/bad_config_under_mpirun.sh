#!/usr/bin/env bash
# Under a real 2-rank mpirun, a config error must end the whole job quickly with a non-zero exit
# and a message that names the file, line and key (and suggests the right key).
set -uo pipefail
nxt_ddp="$1"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'run:\n  name: t\ndata:\n  batch_sise: 4\n' >"$work/bad.yaml"

start=$(date +%s)
timeout 30 "$here/../../launch/nxt_mpirun" -np 2 "$nxt_ddp" --config "$work/bad.yaml" >"$work/out" 2>&1
code=$?
elapsed=$(( $(date +%s) - start ))
cat "$work/out"
fail() { echo "FAIL: $*"; exit 1; }
[[ $code -ne 0 ]] || fail "mpirun exited 0 on a bad config"
[[ $code -ne 124 ]] || fail "the job hung (killed after 30 s)"
grep -q "bad.yaml:4: unknown key 'data.batch_sise' (did you mean 'data.batch_size'?)" "$work/out" ||
  fail "message does not name file:line, key and suggestion"
echo "PASS: exit $code after ${elapsed}s"
