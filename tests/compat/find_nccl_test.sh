#!/usr/bin/env bash
# ctest compat.find_nccl: checks cmake/NxtNccl.cmake on fake layouts, with no GPU and no torch:
#  1. a pip-style site-packages (torch/share/cmake + the nvidia-nccl wheel, which ships only
#     libnccl.so.2) named by CMAKE_PREFIX_PATH: the wheel is found, libnccl.so.2 accepted;
#  2. NCCL_ROOT wins over the wheel;
#  3. the version is read from nccl.h.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

site=$tmp/venv/lib/python3.12/site-packages
mkdir -p "$site/torch/share/cmake/Torch" "$site/nvidia/nccl/include" "$site/nvidia/nccl/lib" \
  "$tmp/nccl_root/include" "$tmp/nccl_root/lib"
printf '#define NCCL_MAJOR 2\n#define NCCL_MINOR 21\n#define NCCL_PATCH 5\n' >"$site/nvidia/nccl/include/nccl.h"
: >"$site/nvidia/nccl/lib/libnccl.so.2"
printf '#define NCCL_MAJOR 2\n#define NCCL_MINOR 27\n#define NCCL_PATCH 7\n' >"$tmp/nccl_root/include/nccl.h"
: >"$tmp/nccl_root/lib/libnccl.so"

probe() {  # probe BUILD_DIR cmake-args... -> prints the NCCL_RESULT line's value
  local build=$1; shift
  env -u NCCL_ROOT cmake -S "$here/find_nccl" -B "$build" "$@" >"$build.log" 2>&1 ||
    { cat "$build.log"; return 1; }
  sed -n 's/^-- NCCL_RESULT=//p' "$build.log"
}
fail=0
expect() {  # expect WHAT ACTUAL EXPECTED
  if [[ "$2" == "$3" ]]; then echo "ok: $1"; else echo "FAIL: $1"$'\n'"  got:      $2"$'\n'"  expected: $3"; fail=1; fi
}

got=$(probe "$tmp/b1" -DCMAKE_PREFIX_PATH="$site/torch/share/cmake")
expect "wheel next to torch (CMAKE_PREFIX_PATH)" "$got" \
  "TRUE|$site/nvidia/nccl/lib/libnccl.so.2|$site/nvidia/nccl/include|nvidia-nccl wheel next to torch|2.21.5"
got=$(probe "$tmp/b2" -DTorch_DIR="$site/torch/share/cmake/Torch")
expect "wheel next to torch (Torch_DIR)" "$got" \
  "TRUE|$site/nvidia/nccl/lib/libnccl.so.2|$site/nvidia/nccl/include|nvidia-nccl wheel next to torch|2.21.5"
got=$(probe "$tmp/b3" -DCMAKE_PREFIX_PATH="$site/torch/share/cmake" -DNCCL_ROOT="$tmp/nccl_root")
expect "NCCL_ROOT before the wheel" "$got" \
  "TRUE|$tmp/nccl_root/lib/libnccl.so|$tmp/nccl_root/include|NCCL_ROOT|2.27.7"
exit $fail
