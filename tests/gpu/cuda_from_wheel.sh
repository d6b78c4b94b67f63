#!/usr/bin/env bash
# Lays out a CUDA toolkit folder without nvcc from the CUDA wheel next to torch, for a machine
# whose pip torch has no CUDA toolkit beside it (tests/gpu/cuda_without_nvcc.cmake says why):
#
#   cuda_from_wheel.sh PYTHON DIR [MORE_INCLUDE]
#
# DIR gets include/ (the wheel's headers: runtime, cuBLAS, cuSPARSE, cuSOLVER, NVTX 3, ...; and
# from MORE_INCLUDE what the wheels lack: the toolkit's crt/ headers, which cuda_runtime_api.h
# includes, carried by tests/gpu/pack_sysroot.sh),
# lib64/ with each of the wheel's libraries under its unversioned name (the wheel has only
# libcudart.so.13 and the like; CMake's find_library looks for libcudart.so), and version.txt /
# version.json, by which CMake's FindCUDAToolkit recognises a toolkit without nvcc. CUDA 13
# wheels keep all of this in site-packages/nvidia/cu13.
set -euo pipefail
if [[ $# -lt 2 || $# -gt 3 ]]; then
  echo "usage: cuda_from_wheel.sh PYTHON DIR [MORE_INCLUDE]" >&2
  exit 64
fi
py=$1 dest=$2 more=${3:-}
wheel=$("$py" - <<'PY'
import glob, os, torch
site = os.path.dirname(os.path.dirname(torch.__file__))
for root in sorted(glob.glob(os.path.join(site, "nvidia", "cu[0-9]*"))):
    if (os.path.exists(os.path.join(root, "include", "cuda_runtime_api.h"))
            and glob.glob(os.path.join(root, "lib", "libcudart.so.*"))):
        print(root)
        break
else:
    raise SystemExit("cuda_from_wheel: no nvidia/cu*/include/cuda_runtime_api.h next to torch in " + site)
PY
)
# The runtime's version, from its header: CUDART_VERSION 13020 is 13.2.
cudart=$(sed -nE 's/^#define CUDART_VERSION +([0-9]+).*/\1/p' "$wheel/include/cuda_runtime_api.h")
[[ -n "$cudart" ]] || { echo "cuda_from_wheel: no CUDART_VERSION in $wheel/include/cuda_runtime_api.h" >&2; exit 1; }
version=$((cudart / 1000)).$((cudart % 1000 / 10)).0
rm -rf "$dest"
mkdir -p "$dest/include" "$dest/lib64" "$dest/bin"
# include/: a link to each of the wheel's entries, then to each of MORE_INCLUDE's it lacks.
for entry in "$wheel"/include/* ${more:+"$more"/*}; do
  [[ -e "$dest/include/${entry##*/}" ]] || ln -s "$entry" "$dest/include/${entry##*/}"
done
[[ -e "$dest/include/crt/host_defines.h" ]] ||
  { echo "cuda_from_wheel: no crt/host_defines.h in $wheel/include${more:+ or $more}" >&2; exit 1; }
for lib in "$wheel"/lib/lib*.so*; do
  name=$(basename "$lib")
  name=${name%%.so*}.so
  [[ -e "$dest/lib64/$name" ]] || ln -s "$lib" "$dest/lib64/$name"
done
echo "CUDA Version $version" >"$dest/version.txt"
printf '{ "cuda" : { "name" : "CUDA SDK", "version" : "%s" } }\n' "$version" >"$dest/version.json"
echo "cuda_from_wheel: $dest: CUDA $version from $wheel (no nvcc)"
