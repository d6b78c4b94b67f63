#!/usr/bin/env bash
# Configures and builds nxt in ./build (Release, Ninja). Extra arguments go to cmake, e.g.
#   launch/build.sh -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${NXT_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
# Torch translation units take ~1.5 GB of RAM each; 2 jobs fit any 8 GB machine.
cmake --build "$build_dir" -j "${NXT_BUILD_JOBS:-$(nproc)}"
echo "build: programs are in $build_dir/bin (nxt_ddp, nxt_predict, nxt_eval)"
