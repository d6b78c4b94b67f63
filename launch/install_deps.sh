#!/usr/bin/env bash
# Installs every system package nxt needs to build, test and run on Debian 12 (bookworm), then
# the project's Python environment .venv/ (torch 2.15 and the Python tools: launch/python_env.sh).
# Idempotent: packages already present are left alone. Uses sudo when not root.
# NXT_VENV=0 skips the venv (a machine without the package index: build with NXT_TORCH=debian).
# On other distributions it prints the package list and exits, so you can map the names.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config ccache clang-format git
  # LibTorch (CPU) and a fast BLAS: Debian's libtorch calls libblas.so.3, and the
  # reference BLAS is ~13x slower than OpenBLAS for the 1x1 convolutions of ResNeXt.
  libtorch-dev libopenblas0-openmp
  # distributed + data
  libopenmpi-dev openmpi-bin libhdf5-dev hdf5-tools libyaml-cpp-dev libcli11-dev nlohmann-json3-dev
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev
  # JPEG in packed files (format version 2): libjpeg-turbo's TurboJPEG API, DCT-scaled decode
  libturbojpeg0-dev
  # TensorBoard event files: Event records as protobuf (library + protoc), Boost.CRC's CRC-32C
  libprotobuf-dev protobuf-compiler libboost-dev
  # tests
  libgtest-dev googletest
  # cluster/ tests: a one-host Slurm (tests/slurm/local_slurm.sh)
  slurm-wlm slurmctld slurmd slurm-client munge
  # benchmarks: peak memory and ratios
  time bc
  # the project venv (launch/python_env.sh: torch 2.15, torchvision, onnxruntime, timm, ...), and
  # Debian's Python for curves.png and data_tools/*.py where there is no venv (without pip:
  # apt-get install python3-torch python3-torchvision gives those tools Debian's torch 1.13)
  python3-venv python3-h5py python3-matplotlib python3-pil python3-numpy python3-yaml
)

if [[ "${1:-}" == "--list" ]]; then
  printf '%s\n' "${PACKAGES[@]}"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1 || ! grep -qsE '^ID(_LIKE)?=.*debian' /etc/os-release; then
  echo "install_deps: this script supports Debian/Ubuntu (apt-get). Install these packages" >&2
  echo "or your distribution's equivalents, then build with cmake:" >&2
  printf '  %s\n' "${PACKAGES[@]}" >&2
  exit 1
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install_deps: all ${#PACKAGES[@]} packages already installed"
else
  echo "install_deps: installing ${#missing[@]} packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Make OpenBLAS the provider of libblas.so.3 (Debian's alternatives may still point at the
# reference BLAS if it was installed first).
for alt in libblas.so.3-x86_64-linux-gnu liblapack.so.3-x86_64-linux-gnu; do
  target=$(update-alternatives --list "$alt" 2>/dev/null | grep -m1 openblas || true)
  if [[ -n "$target" ]]; then $SUDO update-alternatives --set "$alt" "$target" >/dev/null; fi
done
echo "install_deps: libblas.so.3 -> $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo '?')"

if [[ "${NXT_VENV:-1}" != 0 ]]; then
  # Not fatal: without the package index the build falls back to Debian's LibTorch
  # (launch/torch_choice.sh), and launch/test.sh says what went untested.
  bash "$(dirname "$0")/python_env.sh" ||
    echo "install_deps: no project venv (see above); nxt builds against Debian's LibTorch" >&2
fi
