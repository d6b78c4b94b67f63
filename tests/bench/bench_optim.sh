#!/usr/bin/env bash
# Benchmark (not a test): the optimizer step on ResNeXt-50's parameters, torch::optim against
# nxt's multi-tensor optimizers, interleaved in one run.   tests/bench/bench_optim.sh [ARGS...]
# (--device cuda on a GPU machine; on a CPU, OMP_NUM_THREADS sets the threads.)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin="${NXT_BUILD_DIR:-$repo/build}/bin"
"$bin/nxt_bench_optim" "$@"
