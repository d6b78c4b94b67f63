#!/usr/bin/env bash
# Benchmark (not a test): MPI all-reduce bandwidth against memcpy, and the reducer's step
# overhead and overlap, on 2 ranks of 1 thread each.   tests/bench/bench_comm.sh [ARGS...]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin="${NXT_BUILD_DIR:-$repo/build}/bin"
OMP_NUM_THREADS=1 "$repo/launch/nxt_mpirun" -np 2 "$bin/nxt_bench_comm" "$@"
