#!/usr/bin/env bash
# Makes the project's Python environment .venv/ (git-ignored) from launch/requirements.txt:
# torch 2.15 (the LibTorch nxt builds against by default), torchvision, and what the interop
# tests, benchmarks and data_tools/*.py need. Prints what it installed and how long it took.
# Re-running it is a no-op while requirements.txt is unchanged (a stamp holds its hash).
#   launch/python_env.sh          make or update .venv
#   launch/python_env.sh --python       print the Python nxt's scripts use: the venv's when it
#                                       exists, else Debian's /usr/bin/python3 (nothing installed)
#   launch/python_env.sh --venv-python  print the venv's interpreter path (it may not exist)
# NXT_VENV_DIR=DIR puts the environment elsewhere. Without network access to the package index this
# fails, saying so; launch/build.sh then falls back to Debian's LibTorch (NXT_TORCH=debian).
# NXT_TORCH_INDEX_URL=URL takes torch and torchvision (the versions pinned in requirements.txt)
# from another wheel index, e.g. https://download.pytorch.org/whl/cu126 or a site's mirror of it:
# the default wheels carry CUDA 13, which needs NVIDIA driver 580 or newer, and a CUDA 12 build
# runs on 525-570 drivers (docs/cluster.md, "An older NVIDIA driver"). Changing it, or unsetting
# it again, replaces torch, torchvision and their nvidia-* wheels with the named index's.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${NXT_VENV_DIR:-$PWD/.venv}
requirements=launch/requirements.txt
case "${1:-}" in
  --venv-python)
    echo "$venv/bin/python"
    exit 0
    ;;
  --python)
    if [[ -x "$venv/bin/python" ]]; then echo "$venv/bin/python"; else echo /usr/bin/python3; fi
    exit 0
    ;;
esac

stamp="$venv/.nxt-requirements.sha256"
torch_index=${NXT_TORCH_INDEX_URL:-}
# The default index keeps the stamp of the requirements alone (venvs made before the option stay
# up to date); another index is part of what was installed.
want=$( (
  cat "$requirements"
  [[ -z "$torch_index" ]] || echo "torch index: $torch_index"
) | sha256sum | cut -d' ' -f1)
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "python_env: $venv is up to date ($("$venv/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
  exit 0
fi

start=$(date +%s)
# Debian's python3 (python3-venv from install_deps.sh), not whichever python3 is first on PATH.
base_python=${NXT_BASE_PYTHON:-/usr/bin/python3}
[[ -x "$venv/bin/python" ]] || "$base_python" -m venv "$venv"
pip=("$venv/bin/python" -m pip)
quiet=(--quiet --disable-pip-version-check --no-input)
# The index torch came from ("" for the default). pip keeps an installed torch that matches the
# pinned version whatever its CUDA build, so a change of index first removes torch, torchvision
# and torch's nvidia-* wheels: stale CUDA libraries beside the new torch would be found by the
# build (cmake/NxtCudaRuntime.cmake takes the first runtime it finds) and loaded twice.
index_stamp="$venv/.nxt-torch-index"
if [[ "$(cat "$index_stamp" 2>/dev/null || true)" != "$torch_index" ]]; then
  mapfile -t old_torch < <("${pip[@]}" list --format=freeze --disable-pip-version-check \
    2>/dev/null | cut -d= -f1 | grep -E '^(torch|torchvision|nvidia-.*)$' || true)
  if [[ ${#old_torch[@]} -gt 0 ]]; then
    echo "python_env: the torch index changed: removing ${#old_torch[@]} packages (torch's)"
    "${pip[@]}" uninstall --yes "${quiet[@]}" "${old_torch[@]}"
  fi
fi
if [[ -n "$torch_index" ]]; then
  mapfile -t torch_pins < <(grep -E '^(torch|torchvision)==' "$requirements")
  echo "python_env: installing ${torch_pins[*]} from $torch_index"
  "${pip[@]}" install "${quiet[@]}" --index-url "$torch_index" "${torch_pins[@]}" || {
    echo "python_env: pip could not install ${torch_pins[*]} from $torch_index (does it carry" \
      "this version? PyTorch's indexes, e.g. .../whl/cu126, carry the releases built for that" \
      "CUDA)" >&2
    exit 1
  }
fi
echo "python_env: installing $requirements into $venv (torch's CUDA wheels are ~4 GB)"
"${pip[@]}" install "${quiet[@]}" -r "$requirements" || {
  echo "python_env: pip could not install $requirements into $venv (no access to the package" \
    "index?). Build against Debian's LibTorch instead: NXT_TORCH=debian bash launch/build.sh" >&2
  exit 1
}
echo "$torch_index" >"$index_stamp"
echo "$want" >"$stamp"
echo "python_env: installed in $(($(date +%s) - start)) s:"
"$venv/bin/python" - <<'PY'
import importlib.metadata as md
import torch
for name in ("torch", "torchvision", "numpy", "h5py", "onnxruntime", "timm"):
    print(f"  {name} {md.version(name)}")
nccl = ".".join(map(str, torch.cuda.nccl.version())) if torch.cuda.is_available() or torch.version.cuda else "-"
print(f"  torch CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, NCCL {nccl}, "
      f"GPU available: {torch.cuda.is_available()}")
PY
