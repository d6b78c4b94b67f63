#!/usr/bin/env bash
# The README's test command: installs the system packages, builds, and runs every test
# (GoogleTest units, real-mpirun tests, Python interop) with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/install_deps.sh
bash launch/build.sh
cd "${NXT_BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" "$@"
