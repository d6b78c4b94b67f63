#!/usr/bin/env bash
# The README's test command (and CI's: .ci/run calls only this). Installs the system packages
# and the project venv (torch 2.15, launch/install_deps.sh), then, each stage under a header with
# its result and time:
#   1. the build against the venv's torch 2.15 into build/: the CUDA build with NCCL, compiled
#      and linked, where the CUDA toolkit exists (/usr/local/cuda or CUDA_HOME);
#   2. the whole suite on that build (ctest): on a machine without a GPU every path that runs on
#      the CPU runs, and the NCCL tests say why they cannot;
#   3. the build against Debian's LibTorch 1.13 (the fallback without the package index) with
#      AddressSanitizer and UndefinedBehaviorSanitizer into build-asan/ (the asan preset of
#      CMakePresets.json: NXT_SANITIZE=address,undefined);
#   4. its C++ suite (ctest -L cpp) under the sanitizers: the GoogleTest units (torchvision/timm
#      interop included) and the MPI communicator and reducer tests under mpirun with 2 and 3
#      ranks;
#   5. the format check of the C++ sources (launch/format.sh --check, seconds).
# Any failure fails the script, after all stages ran. Extra arguments go to both ctest runs.
# NXT_EXPECT_CUDA=1 (.ci/run sets it: CI machines carry the toolkit) makes a missing toolkit a
# failure instead of a note. NXT_TEST_DEBIAN=0 skips stages 3-4 (a quick local run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/install_deps.sh
source launch/torch_choice.sh

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
run_ctest() {  # run_ctest BUILD_DIR [ctest args]: fails when the filters select no test
  local dir=$1
  shift
  (cd "$dir" && ctest --output-on-failure --no-tests=error -j "$(nproc)" "$@")
}
missing_toolkit() {
  echo "no CUDA toolkit at ${CUDA_HOME:-/usr/local/cuda} (nvcc): the CUDA build cannot be made," \
    "and NXT_EXPECT_CUDA=1 says it must be" >&2
  return 1
}

# Each stage uses its kind's default folder (build/, build-debian/).
unset NXT_BUILD_DIR
NXT_TORCH=auto
nxt_choose_torch
venv_build=build
whole_suite_on_debian=0
if [[ $NXT_TORCH_KIND != venv ]]; then
  # No venv torch to build against (no package index, or a CUDA torch without a toolkit): the
  # whole suite then runs on Debian's LibTorch, so nothing goes untested.
  whole_suite_on_debian=1
  [[ "${NXT_EXPECT_CUDA:-0}" != 1 ]] || stage "torch 2.15: the CUDA toolkit and the venv" missing_toolkit
  echo "test.sh: no torch 2.15 build on this machine (see above): the whole suite runs on Debian's LibTorch"
elif nxt_cuda_build; then
  kind="CUDA build with NCCL"
elif [[ "${NXT_EXPECT_CUDA:-0}" == 1 ]]; then
  kind="CUDA build expected"
  stage "torch 2.15: the CUDA toolkit" missing_toolkit
else
  kind="no CUDA toolkit here: CPU-only torch build"
  echo "test.sh: no CUDA toolkit (${CUDA_HOME:-/usr/local/cuda}/bin/nvcc): the CUDA build is not" \
    "tested on this machine"
fi
if [[ $NXT_TORCH_KIND == venv ]]; then
  stage "build: torch 2.15 from the venv ($kind) -> $venv_build/" \
    env NXT_TORCH=venv bash launch/build.sh
  stage "ctest: torch 2.15 ($kind), whole suite" run_ctest "$venv_build" "$@"
fi

if [[ "${NXT_TEST_DEBIAN:-1}" != 0 || $whole_suite_on_debian == 1 ]]; then
  unset NXT_BUILD_DIR
  NXT_TORCH=debian
  nxt_choose_torch
  if ((whole_suite_on_debian)); then
    stage "build: Debian LibTorch 1.13 -> $NXT_BUILD_DIR/" \
      env NXT_TORCH=debian NXT_BUILD_DIR="$NXT_BUILD_DIR" bash launch/build.sh
    stage "ctest: Debian LibTorch 1.13, whole suite" run_ctest "$NXT_BUILD_DIR" "$@"
  else
    # The C++ suite's programs only (the units and the MPI tests), under ASan and UBSan: the
    # fallback's build and the memory checks in one stage, so CI pays for one Debian build.
    sanitized_dir=build-asan
    stage "build: Debian LibTorch 1.13, ASan+UBSan -> $sanitized_dir/" \
      env NXT_TORCH=debian NXT_BUILD_DIR="$sanitized_dir" NXT_BUILD_TARGETS="nxt_tests nxt_mpi_tests nxt_output_whole" \
      bash launch/build.sh -DNXT_SANITIZE=address,undefined
    stage "ctest: Debian LibTorch 1.13, ASan+UBSan, the C++ suite (-L cpp)" \
      run_ctest "$sanitized_dir" -L cpp "$@"
  fi
fi

stage "format: clang-format of the C++ sources" bash launch/format.sh --check

printf '\n===== test.sh summary\n'
printf '  %s\n' "${results[@]}"
exit $status
