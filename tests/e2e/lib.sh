# Shared helpers for the end-to-end scripts (sourced).
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
nxt_mpirun="$repo_root/launch/nxt_mpirun"

fail() { echo "FAIL: $*"; exit 1; }

# run_bounded SECONDS OUTFILE COMMAND...: runs COMMAND under a timeout, output to OUTFILE (and
# shown); sets $code (exit status) and $elapsed (seconds).
run_bounded() {
  local limit=$1 out=$2
  shift 2
  local start
  start=$(date +%s)
  timeout "$limit" "$@" >"$out" 2>&1
  code=$?
  elapsed=$(( $(date +%s) - start ))
  cat "$out"
}

# expect_clean_failure MAX_SECONDS: the last run_bounded failed, did not hang, and was quick.
expect_clean_failure() {
  [[ $code -ne 0 ]] || fail "the job exited 0"
  [[ $code -ne 124 ]] || fail "the job hung (killed by the timeout)"
  [[ $elapsed -le $1 ]] || fail "the job took ${elapsed}s (limit $1s)"
}
