#!/usr/bin/env bash
# The README's main command: installs the system packages, builds, and runs the demo job.
# Today the demo prints the model summaries of the demo and of ResNeXt-50; the packing and
# mpirun training steps join it as the data and trainer parts land.
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/install_deps.sh
bash launch/build.sh
bin=${NXT_BUILD_DIR:-build}/bin
"$bin/nxt_ddp" --config configs/demo.yaml --summary --set model.num_classes=4
"$bin/nxt_ddp" --config configs/seed.yaml --summary --set model.num_classes=4
