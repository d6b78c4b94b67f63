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
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "python_env: $venv is up to date ($("$venv/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
  exit 0
fi

start=$(date +%s)
# Debian's python3 (python3-venv from install_deps.sh), not whichever python3 is first on PATH.
base_python=${NXT_BASE_PYTHON:-/usr/bin/python3}
[[ -x "$venv/bin/python" ]] || "$base_python" -m venv "$venv"
echo "python_env: installing $requirements into $venv (torch's CUDA wheels are ~4 GB)"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
  -r "$requirements" || {
  echo "python_env: pip could not install $requirements into $venv (no access to the package" \
    "index?). Build against Debian's LibTorch instead: NXT_TORCH=debian bash launch/build.sh" >&2
  exit 1
}
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
