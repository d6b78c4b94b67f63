# shellcheck shell=bash
# Sourced by tests/compat/*.sh: the Debian 13 (trixie) root in which nxt is built and tested
# against Debian's LibTorch 2.6 (CPU) and python3-torch 2.6, on a Debian 12 host.
#
# The root is made once with `debootstrap --variant=minbase trixie` and kept at a fixed path
# (NXT_DEBIAN13_ROOT, default /var/cache/nxt/debian13-root), so later runs reuse it: it is
# rebuilt only when missing, and its packages are brought up to date when the list changes
# (a stamp file holds the list it was made with). The packages mirror launch/install_deps.sh's
# list (its --list), minus Slurm/munge and debootstrap, so the root builds and tests what the
# host does. Everything runs as root (debootstrap, chroot and mount need it).
#
# Mounts (/proc, /sys, /dev, /dev/pts, /dev/shm) are made by d13_chroot inside a private mount
# namespace (unshare --mount), so they never show on the host and vanish with the command even
# if it is killed; an EXIT trap also unmounts them in reverse order.

NXT_DEBIAN13_ROOT=${NXT_DEBIAN13_ROOT:-/var/cache/nxt/debian13-root}
d13_lock="$(dirname "$NXT_DEBIAN13_ROOT")/debian13.lock"
# Bounded waits for another run that holds the root (creation, or a whole suite).
d13_lock_wait_s=${NXT_DEBIAN13_LOCK_WAIT_S:-1800}

d13_log() { echo "[debian13 $(date +%H:%M:%S)] $*" >&2; }

# The Debian mirror this machine's apt uses (deb822 .sources first, then sources.list).
d13_mirror() {
  if [[ -n "${NXT_DEBIAN_MIRROR:-}" ]]; then echo "$NXT_DEBIAN_MIRROR"; return; fi
  local uri
  uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
    awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }')
  if [[ -z "$uri" ]]; then
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:.*\/debian\/?$/) { print $i; exit } }')
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

# install_deps.sh's packages minus what the root does not need or cannot run.
d13_packages() {
  local repo
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  bash "$repo/launch/install_deps.sh" --list |
    grep -vxE 'slurm-wlm|slurmctld|slurmd|slurm-client|munge|debootstrap'
}

# Runs a command in the root with /proc, /sys, /dev, /dev/pts and /dev/shm mounted, in a
# private mount namespace; environment: a clean one (HOME=/root, C.UTF-8) plus D13_ENV=(...).
d13_chroot() {
  local root=$NXT_DEBIAN13_ROOT
  local envs=(HOME=/root LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=dumb
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${D13_ENV[@]}")
  unshare --mount --propagation private -- bash -c '
    set -euo pipefail
    root=$1; shift
    mounted=()
    cleanup() {
      local i
      for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" 2>/dev/null || true
      done
    }
    trap cleanup EXIT
    mnt() {  # mnt TARGET mount-args...
      local target=$root$1; shift
      mkdir -p "$target"
      mount "$@" "$target"
      mounted+=("$target")
    }
    mnt /proc -t proc proc
    mnt /sys -o bind,ro /sys
    mnt /dev -o bind /dev
    mnt /dev/pts -o bind /dev/pts
    mnt /dev/shm -o bind /dev/shm
    chroot "$root" /usr/bin/env -i "$@"
  ' d13 "$root" "${envs[@]}" "$@"
}

# Makes the root (when missing) and installs the packages (when the list changed). Holds the
# lock while it does; returns at once when the root is ready.
d13_ensure_root() {
  local root=$NXT_DEBIAN13_ROOT stamp=$NXT_DEBIAN13_ROOT/etc/nxt-packages
  local wanted
  wanted=$(d13_packages | sort)
  if [[ -x "$root/usr/bin/apt-get" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
    return 0
  fi
  mkdir -p "$(dirname "$root")"
  exec {d13_fd}>"$d13_lock"
  flock -w "$d13_lock_wait_s" "$d13_fd" ||
    { d13_log "another run has held $d13_lock for ${d13_lock_wait_s}s; giving up"; return 1; }
  local rc=0
  d13_prepare_locked "$wanted" || rc=$?
  exec {d13_fd}>&-
  return $rc
}

d13_prepare_locked() {
  local wanted=$1 root=$NXT_DEBIAN13_ROOT stamp=$NXT_DEBIAN13_ROOT/etc/nxt-packages
  local mirror t0
  mirror=$(d13_mirror)
  if [[ ! -x "$root/usr/bin/apt-get" ]]; then
    command -v debootstrap >/dev/null ||
      { d13_log "debootstrap is missing (bash launch/install_deps.sh installs it)"; return 1; }
    t0=$(date +%s)
    d13_log "creating the Debian 13 root at $root (debootstrap --variant=minbase trixie $mirror)"
    rm -rf "$root.partial"
    # In a private mount namespace: debootstrap's own /proc and /sys mounts cannot leak.
    if ! unshare --mount --propagation private -- debootstrap --variant=minbase trixie \
      "$root.partial" "$mirror" >"$(dirname "$root")/debootstrap.log" 2>&1; then
      tail -20 "$(dirname "$root")/debootstrap.log" >&2
      d13_log "debootstrap failed (log: $(dirname "$root")/debootstrap.log)"
      return 1
    fi
    rm -rf "$root" && mv "$root.partial" "$root"
    d13_log "root created in $(($(date +%s) - t0)) s"
  fi
  cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror trixie main contrib
deb $mirror trixie-updates main contrib
EOF
  rm -f "$root/etc/apt/sources.list.d/debian.sources"
  cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  # No daemon starts in the root; dpkg without fsync (the root is a disposable cache).
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod +x "$root/usr/sbin/policy-rc.d"
  echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/nxt-unsafe-io"
  t0=$(date +%s)
  d13_log "installing $(wc -l <<<"$wanted") packages in the root (apt-get, $mirror)"
  local D13_ENV=(DEBIAN_FRONTEND=noninteractive)  # seen by d13_chroot (dynamic scope)
  local packages
  mapfile -t packages <<<"$wanted"
  if ! d13_chroot bash -c '
      apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null &&
      apt-get clean' apt "${packages[@]}"; then
    d13_log "package installation in the root failed"
    return 1
  fi
  # Same BLAS choice as install_deps.sh: OpenBLAS behind libblas.so.3.
  d13_chroot bash -c 'for alt in libblas.so.3-x86_64-linux-gnu liblapack.so.3-x86_64-linux-gnu; do
      t=$(update-alternatives --list $alt 2>/dev/null | grep -m1 openblas || true)
      [ -n "$t" ] && update-alternatives --set $alt $t >/dev/null; done; true'
  echo "$wanted" >"$stamp"
  d13_log "packages installed in $(($(date +%s) - t0)) s ($(du -sh --exclude=proc --exclude=sys --exclude=dev "$root" 2>/dev/null | cut -f1))"
}
