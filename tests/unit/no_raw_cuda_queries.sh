#!/usr/bin/env bash
# Note [CUDA queries] (src/comm/cuda_query.h): a raw cudaEventQuery/cudaStreamQuery leaves
# cudaErrorNotReady as the thread's last error, and PyTorch's next kernel-launch check then
# throws "device not ready". Every query goes through cuda_query.h; this scan fails when a raw
# call appears anywhere else in the project's C++ and CUDA sources. It first checks itself:
# a tree with a planted raw call must be flagged, so the scan can fail.
#   tests/unit/no_raw_cuda_queries.sh [ROOT]   (ROOT: the repository, default this one)
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
allowed=src/comm/cuda_query.h

# raw_calls ROOT: prints file:line:text of each raw query outside $allowed.
raw_calls() {
  (cd "$1" && grep -rnE --include='*.cpp' --include='*.h' --include='*.cu' --include='*.cuh' \
    --include='*.hpp' --include='*.cc' '\bcuda(Event|Stream)Query[[:space:]]*\(' \
    src tests data_tools 2>/dev/null | grep -v "^$allowed:") || true
}

planted=$(mktemp -d)
trap 'rm -rf "$planted"' EXIT
mkdir -p "$planted/src/train" "$planted/src/comm" "$planted/tests" "$planted/data_tools"
printf 'bool done(cudaEvent_t e) { return cudaEventQuery (e) == cudaSuccess; }\n' \
  >"$planted/src/train/planted.cpp"
cp "$root/$allowed" "$planted/$allowed"
if [[ -z "$(raw_calls "$planted")" ]]; then
  echo "FAIL: the scan missed a raw cudaEventQuery planted in src/train/planted.cpp" >&2
  exit 1
fi

found=$(raw_calls "$root")
if [[ -n "$found" ]]; then
  echo "FAIL: raw CUDA event/stream queries outside $allowed (Note [CUDA queries]: use" \
    "cuda_event_done / cuda_stream_idle / wait_for_cuda_event):" >&2
  echo "$found" >&2
  exit 1
fi
echo "PASS: no raw cudaEventQuery/cudaStreamQuery outside $allowed (the planted one was flagged)"
