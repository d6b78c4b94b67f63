#!/usr/bin/env bash
# ctest compat.cuda_build_links (registered for a CUDA LibTorch with NCCL): the CUDA build is
# linked for real, against what torch itself loads (cmake/NxtCudaRuntime.cmake):
#  - nxt_ddp needs libtorch_cuda, libc10_cuda, the CUDA runtime and NCCL, all resolved;
#  - exactly one libcudart, libnccl and libnvrtc in the process's libraries, from torch's nvidia
#    wheels (site-packages/nvidia/...), none from the toolkit under /usr/local/cuda;
#  - the program starts on this machine, with or without a GPU (--summary builds the model).
# Prints ldd's lines for the record.
set -uo pipefail
bin=${1:?usage: cuda_build_links.sh BIN_DIR}
fail() { echo "FAIL: $*"; exit 1; }
program="$bin/nxt_ddp"
libraries=$(ldd "$program") || fail "ldd $program failed"
echo "$libraries" | grep -E "torch|c10|cudart|nccl|nvrtc|not found"
! grep -q "not found" <<<"$libraries" || fail "unresolved libraries: $(grep 'not found' <<<"$libraries")"
for name in libtorch_cuda.so libc10_cuda.so libcudart.so libnccl.so; do
  grep -q "$name" <<<"$libraries" || fail "$program does not link $name"
done
for name in libcudart.so libnccl.so libnvrtc.so; do
  copies=$(grep -c "$name" <<<"$libraries")
  [[ $copies -eq 1 ]] || fail "$copies copies of $name in the process: $(grep "$name" <<<"$libraries")"
  path=$(readlink -f "$(grep "$name" <<<"$libraries" | awk '{ print $3 }')")
  [[ $path == */site-packages/nvidia/* ]] || fail "$name comes from $path, not torch's nvidia wheels"
done
"$program" --summary --set model.num_classes=4 >/dev/null || fail "$program --summary failed to run"
echo "PASS: nxt_ddp links torch's CUDA libraries, one CUDA runtime and one NCCL, from the wheels"
