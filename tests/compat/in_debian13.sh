#!/usr/bin/env bash
# Runs one command inside the Debian 13 (trixie) root of tests/compat/debian13.sh, with /proc,
# /sys, /dev, /dev/pts and /dev/shm mounted for the command only (private mount namespace,
# unmounted on exit). The root is created first when it is missing (~2 min, 2.5 GB, root only).
# Other tests use it to run Debian 13's LibTorch 2.6 or python3-torch 2.6, e.g.
#
#   tests/compat/in_debian13.sh python3 -c 'import torch; print(torch.__version__)'
#   tests/compat/in_debian13.sh bash -c 'cd /src/nxt && ...'
#
# The command sees a clean environment (HOME=/root, LANG=C.UTF-8, a standard PATH); pass
# variables with `env NAME=VALUE CMD ...`. Exit status: the command's.
# NXT_DEBIAN13_ROOT overrides the root's path (default /var/cache/nxt/debian13-root).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/compat/debian13_root.sh
source "$here/debian13_root.sh"

if (($# == 0)); then
  echo "usage: $0 CMD [ARGS...]   (runs CMD inside $NXT_DEBIAN13_ROOT)" >&2
  exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "in_debian13: needs root (chroot, mount)" >&2
  exit 1
fi
d13_ensure_root
d13_chroot "$@"
