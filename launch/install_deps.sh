#!/usr/bin/env bash
# Installs every system package nxt needs to build, test and run on Debian 12 (bookworm).
# Idempotent: packages already present are left alone. Uses sudo when not root.
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
  # tests
  libgtest-dev googletest
  # cluster/ tests: a one-host Slurm (tests/slurm/local_slurm.sh)
  slurm-wlm slurmctld slurmd slurm-client munge
  # benchmarks: peak memory and ratios
  time bc
  # tests/compat/debian13.sh: the Debian 13 root (LibTorch 2.6) the suite also runs in
  debootstrap
  # Python interop tests, benchmarks and curves (run with /usr/bin/python3)
  python3-torch python3-torchvision python3-h5py python3-matplotlib python3-pil python3-numpy
  python3-yaml python3-onnx
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
