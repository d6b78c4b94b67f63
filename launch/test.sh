#!/usr/bin/env bash
# The README's test command (and CI's: .ci/run calls only this): installs the system packages,
# builds, and runs every test (GoogleTest units, real-mpirun tests, Python interop, Slurm) with
# ctest on this Debian 12 machine (LibTorch 1.13). Then two compatibility stages:
#   - the CUDA compile gate, when /usr/local/cuda exists: every translation unit compiled
#     against Debian 13's CUDA LibTorch 2.6 headers with NCCL (tests/compat/cuda_compile_gate.sh);
#   - the whole suite (Slurm excluded) built and run in a Debian 13 root against LibTorch 2.6
#     and python3-torch 2.6 (tests/compat/debian13.sh; the root is cached in /var/cache/nxt).
# Each stage prints a header and its result; any failure fails the script, after all stages ran.
# Extra arguments go to the Debian 12 ctest. NXT_TEST_COMPAT=0 skips the two compatibility
# stages (a quick local run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/install_deps.sh
bash launch/build.sh
build=${NXT_BUILD_DIR:-build}
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

results=()
status=0
stage() {  # stage NAME CMD...: runs CMD under a header, records PASS/FAIL and the time
  local name=$1 t0 rc=0
  shift
  t0=$(date +%s)
  printf '\n===== %s =====\n' "$name"
  "$@" || rc=$?
  local line
  line=$(printf '%-4s %s (%d s)' "$([[ $rc -eq 0 ]] && echo PASS || echo FAIL)" "$name" $(($(date +%s) - t0)))
  printf '===== %s\n' "$line"
  results+=("$line")
  ((rc == 0)) || status=1
}

stage "ctest, Debian 12 (LibTorch 1.13)" \
  bash -c 'cd "$1" && shift && ctest --output-on-failure -j "$(nproc)" "$@"' ctest "$build" "$@"
if [[ "${NXT_TEST_COMPAT:-1}" != 0 ]]; then
  if [[ -d /usr/local/cuda || -n "${NXT_CUDA_HOME:-}" ]]; then
    stage "CUDA compile gate (Debian 13 CUDA LibTorch 2.6 headers + NCCL)" \
      bash tests/compat/cuda_compile_gate.sh
  else
    printf '\n===== CUDA compile gate: skipped (no /usr/local/cuda)\n'
  fi
  stage "ctest, Debian 13 root (LibTorch 2.6, python3-torch 2.6)" $SUDO bash tests/compat/debian13.sh
fi

printf '\n===== test.sh summary\n'
printf '  %s\n' "${results[@]}"
exit $status
