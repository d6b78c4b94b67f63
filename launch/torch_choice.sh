# shellcheck shell=bash
# Sourced by launch/build.sh, test.sh and demo.sh: which LibTorch nxt builds against, and where.
#   NXT_TORCH=auto (default): the project venv's torch 2.15 (launch/python_env.sh) when the venv
#                             has one, else Debian's LibTorch 1.13
#   NXT_TORCH=venv            the venv's torch (a pip wheel: with a CUDA toolkit under
#                             /usr/local/cuda or CUDA_HOME, the CUDA build with NCCL, linked)
#   NXT_TORCH=debian          Debian's libtorch-dev 1.13 (CPU), for machines without the package
#                             index
# Sets NXT_TORCH_KIND (venv|debian), NXT_BUILD_DIR (default build for the venv torch,
# build-debian for Debian's, so switching never reuses the other's CMake cache), NXT_VENV_PYTHON
# (the venv's interpreter, when it exists) and nxt_python (the Python the tests and tools use:
# the venv's, else Debian's /usr/bin/python3).
# nxt_venv_torch_buildable: true when nxt can build against the venv's torch: a CPU torch, or a
# CUDA torch with a CUDA toolkit (torch's CMake config needs nvcc and the headers).
nxt_venv_torch_buildable() {
  "$NXT_VENV_PYTHON" -c 'import sys, torch; sys.exit(1 if torch.version.cuda else 0)' ||
    [[ -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ]]
}

# nxt_cuda_build: true when the venv's torch build is the CUDA build (CUDA torch + toolkit).
nxt_cuda_build() {
  [[ $NXT_TORCH_KIND == venv && -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ]] &&
    "$NXT_VENV_PYTHON" -c 'import sys, torch; sys.exit(0 if torch.version.cuda else 1)'
}

nxt_choose_torch() {
  NXT_VENV_PYTHON=$(bash "$(dirname "${BASH_SOURCE[0]}")/python_env.sh" --venv-python)
  local venv_has_torch=0
  if [[ -x "$NXT_VENV_PYTHON" ]] && "$NXT_VENV_PYTHON" -c 'import torch' 2>/dev/null; then
    venv_has_torch=1
  fi
  case "${NXT_TORCH:-auto}" in
    auto)
      NXT_TORCH_KIND=debian
      if ((venv_has_torch)); then
        if nxt_venv_torch_buildable; then
          NXT_TORCH_KIND=venv
        else
          echo "torch_choice: the venv's torch is a CUDA build and there is no CUDA toolkit" \
            "(${CUDA_HOME:-/usr/local/cuda}/bin/nvcc) to build against it: using Debian's LibTorch" >&2
        fi
      fi
      ;;
    venv)
      ((venv_has_torch)) || {
        echo "NXT_TORCH=venv but $NXT_VENV_PYTHON has no torch: run launch/python_env.sh" >&2
        return 1
      }
      NXT_TORCH_KIND=venv
      ;;
    debian) NXT_TORCH_KIND=debian ;;
    *)
      echo "NXT_TORCH must be auto, venv or debian (got '$NXT_TORCH')" >&2
      return 1
      ;;
  esac
  if [[ $NXT_TORCH_KIND == venv ]]; then
    NXT_BUILD_DIR=${NXT_BUILD_DIR:-build}
  else
    NXT_BUILD_DIR=${NXT_BUILD_DIR:-build-debian}
  fi
  if ((venv_has_torch)); then nxt_python=$NXT_VENV_PYTHON; else nxt_python=/usr/bin/python3; fi
  export NXT_TORCH_KIND NXT_BUILD_DIR NXT_VENV_PYTHON
}
