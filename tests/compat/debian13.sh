#!/usr/bin/env bash
# The whole test suite against LibTorch 2.6 (CPU) and python3-torch 2.6, in a Debian 13
# (trixie) root on this Debian 12 host: the same sources, built and tested with what the next
# Debian ships, so an API or behaviour change of LibTorch 2.x shows up here and not on a user's
# machine. launch/test.sh runs it after the Debian 12 suite.
#
#   tests/compat/debian13.sh [ctest args...]    # as root; e.g. -R '^e2e\.' to narrow it
#
# Steps, each timed: (1) the root: made with debootstrap and the packages of
# launch/install_deps.sh (minus Slurm) when missing, else reused from
# /var/cache/nxt/debian13-root (tests/compat/debian13_root.sh); (2) the working tree (tracked
# and untracked, not ignored files: what `git status` sees, so uncommitted changes are tested)
# copied to /src/nxt in the root; (3) configure and build in /build/nxt in the root (kept
# between runs, with the root's own ccache: a rerun rebuilds only what changed); (4) ctest
# without the Slurm tests (they start daemons) and tests/multinode (more than one host):
# -E '^(slurm|multinode)\.'. Logs: build-debian13/ (configure.log, build.log, ctest.log).
# Mounts live in a private mount namespace and end with each step (no leftover mounts).
# Knobs: NXT_BUILD_JOBS (default nproc), NXT_DEBIAN13_ROOT, NXT_DEBIAN13_CTEST_TIMEOUT_S (whole
# ctest run, default 1800).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
# shellcheck source=tests/compat/debian13_root.sh
source "$repo/tests/compat/debian13_root.sh"
jobs=${NXT_BUILD_JOBS:-$(nproc)}
ctest_timeout=${NXT_DEBIAN13_CTEST_TIMEOUT_S:-1800}
logs=$repo/build-debian13
root=$NXT_DEBIAN13_ROOT
started=$(date +%s)
say() { echo "[debian13 +$(($(date +%s) - started))s] $*"; }
phase_start=0
phase() { phase_start=$(date +%s); say "$*"; }
took() { echo $(($(date +%s) - phase_start)); }

if [[ $(id -u) -ne 0 ]]; then
  echo "debian13: needs root (debootstrap, chroot, mount); skipped" >&2
  exit 1
fi
mkdir -p "$logs" "$(dirname "$root")"
# One suite at a time on the root (its /src and /build are shared).
exec {suite_fd}>"$(dirname "$root")/debian13-suite.lock"
flock -w "$d13_lock_wait_s" "$suite_fd" ||
  { say "FAIL: another Debian 13 suite has run for ${d13_lock_wait_s}s; giving up"; exit 1; }

phase "1/4 root: $root"
d13_ensure_root
say "root ready in $(took) s: $(cat "$root/etc/debian_version" 2>/dev/null), libtorch-dev" \
  "$(d13_chroot dpkg-query -W -f='${Version}' libtorch-dev)"

phase "2/4 copying the working tree to /src/nxt"
rm -rf "$root/src/nxt" && mkdir -p "$root/src/nxt"
git -C "$repo" ls-files -co --exclude-standard -z |
  (cd "$repo" && xargs -0 -r sh -c 'for f; do [ -e "$f" ] || [ -L "$f" ] && printf "%s\0" "$f"; done' sh) |
  tar -C "$repo" --null -T - -cf - | tar -C "$root/src/nxt" -xf -
say "copied $(find "$root/src/nxt" -type f | wc -l) files in $(took) s"

phase "3/4 configure + build in the root ($jobs jobs)"
if ! d13_chroot cmake -S /src/nxt -B /build/nxt -G Ninja -DCMAKE_BUILD_TYPE=Release \
  >"$logs/configure.log" 2>&1; then
  tail -40 "$logs/configure.log"
  say "FAIL: configure in Debian 13 (log: $logs/configure.log)"
  exit 1
fi
grep -E '^-- +(LibTorch|MPI|HDF5|yaml-cpp|OpenCV|CUDA|NCCL) +:' "$logs/configure.log" || true
if ! d13_chroot cmake --build /build/nxt -j "$jobs" >"$logs/build.log" 2>&1; then
  grep -m3 -B2 -A12 -E 'error|FAILED' "$logs/build.log" || tail -40 "$logs/build.log"
  say "FAIL: build in Debian 13 (log: $logs/build.log)"
  exit 1
fi
build_s=$(took)
say "built in $build_s s"

phase "4/4 ctest -E '^(slurm|multinode)\\.' ${*:-}"
rc=0
d13_chroot timeout -k 30 "$ctest_timeout" bash -c 'cd /build/nxt && ctest --output-on-failure \
  -j "$1" -E "^(slurm|multinode)\\." "${@:2}"' ctest "$(nproc)" "$@" 2>&1 | tee "$logs/ctest.log" ||
  rc=$?
ctest_s=$(took)
summary=$(grep -E 'tests passed|tests failed' "$logs/ctest.log" | tail -1 || true)
failed=$(sed -n '/The following tests FAILED:/,$p' "$logs/ctest.log" | grep -E '^\s+[0-9]+ - ' || true)
say "ctest in $ctest_s s: ${summary:-no summary (rc $rc)}"
if ((rc != 0)); then
  [[ -n "$failed" ]] && printf '%s\n' "$failed"
  say "FAIL: the suite in Debian 13 (LibTorch 2.6) failed (log: $logs/ctest.log)"
  exit 1
fi
say "PASS: the suite in Debian 13 (LibTorch 2.6): build ${build_s} s, ctest ${ctest_s} s," \
  "total $(($(date +%s) - started)) s"
