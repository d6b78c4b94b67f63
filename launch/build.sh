#!/usr/bin/env bash
# Configures and builds nxt (Release, Ninja) against the LibTorch that launch/torch_choice.sh
# picks: by default the project venv's torch 2.15 into build/ (the CUDA build with NCCL, linked,
# where the CUDA toolkit exists: /usr/local/cuda or CUDA_HOME), else Debian's LibTorch 1.13 into
# build-debian/ (NXT_TORCH=debian asks for it).
#   launch/build.sh [cmake args]                      everything (programs, tests, benchmarks)
#   NXT_BUILD_TARGETS="nxt_ddp nxt_eval" launch/build.sh   only these targets (the demo)
# The configure summary names the torch, CUDA toolkit, CUDA runtime, cuDNN and NCCL it took.
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/torch_choice.sh
nxt_choose_torch
args=(-DNXT_PYTHON="$nxt_python")
if [[ $NXT_TORCH_KIND == venv ]]; then
  # Torch's CMake folder and its install prefix: find_library(torch) searches <prefix>/lib
  # before the system's folders, so Debian's libtorch.so (if installed) is never picked instead.
  prefix=$("$NXT_VENV_PYTHON" -c 'import os, torch; print(torch.utils.cmake_prefix_path + ";" + os.path.dirname(torch.__file__))')
  args+=("-DCMAKE_PREFIX_PATH=$prefix")
  if nxt_cuda_build; then
    # A CUDA torch and a toolkit: the CUDA build, which must link NCCL (no silent CPU-only build).
    cuda_home=${CUDA_HOME:-/usr/local/cuda}
    args+=(-DNXT_REQUIRE_NCCL=ON "-DCUDAToolkit_ROOT=$cuda_home" "-DCUDA_TOOLKIT_ROOT_DIR=$cuda_home")
  fi
fi
# A folder configured with another LibTorch keeps it (CMake's cache: Torch_DIR and the libraries
# found through it), whatever CMAKE_PREFIX_PATH now says: refuse it rather than build a mix.
if [[ $NXT_TORCH_KIND == venv ]]; then
  want_torch_dir="${prefix%%;*}/Torch"
  had_torch_dir=$(sed -n 's/^Torch_DIR:PATH=//p' "$NXT_BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
  if [[ -n "$had_torch_dir" && "$(readlink -f "$had_torch_dir")" != "$(readlink -f "$want_torch_dir")" ]]; then
    echo "build: $NXT_BUILD_DIR/ was configured with another LibTorch ($had_torch_dir), not the" \
      "venv's ($want_torch_dir): remove it (rm -rf $NXT_BUILD_DIR) or set NXT_BUILD_DIR" >&2
    exit 1
  fi
fi
echo "build: LibTorch from $NXT_TORCH_KIND into $NXT_BUILD_DIR/"
cmake -S . -B "$NXT_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "${args[@]}" "$@"
targets=()
for target in ${NXT_BUILD_TARGETS:-}; do targets+=(--target "$target"); done
# Torch translation units take ~1.5 GB of RAM each; 2 jobs fit any 8 GB machine.
cmake --build "$NXT_BUILD_DIR" -j "${NXT_BUILD_JOBS:-$(nproc)}" "${targets[@]}"
echo "build: programs are in $NXT_BUILD_DIR/bin (nxt_ddp, nxt_predict, nxt_eval)"
