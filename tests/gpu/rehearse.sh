#!/usr/bin/env bash
# Rehearses the GPU device check (tests/gpu/check.sh) on this CPU machine the way the device
# machine runs it, to find what would break there before a lent GPU's minutes are spent:
#   - a clean clone of the committed tree (NXT_REHEARSE_TREE=worktree: instead, what the device
#     tool copies, the working tree's tracked and not ignored untracked files, uncommitted
#     edits included), plus .gpu_deps (what the run call carries), and the size of the two
#     together against the device tool's 64 MiB;
#   - a pip torch (this checkout's .venv, torch 2.15 with CUDA: its CMake folder, like the
#     device's python3), called as python3;
#   - no ssh, rsh or nvcc: PATH without them (tests/gpu/path_without.sh), the CUDA toolkit
#     hidden in a private mount namespace, CUDA_HOME and LIBRARY_PATH unset;
#   - a glibc older than the sysroot's libevent wants (Ubuntu 22.04's 2.35; PyTorch's images):
#     the unpacked sysroot's libevent is made to need GLIBC_2.99 instead of 2.36 (same length,
#     the need weak as pack_sysroot.sh left it), which this glibc lacks as 2.35 lacks 2.36, and
#     NXT_CHECK_ARC4RANDOM=1 makes check.sh take its old-glibc path (tests/gpu/arc4random.c).
#     NXT_REHEARSE_OLD_GLIBC=0 rehearses a new enough glibc instead;
#   - the CPU with small sizes (NXT_CHECK_DEVICE=cpu: the GPU phases say there is no GPU), and a
#     budget for this machine's slower build (NXT_CHECK_* set by the caller win).
#
#   bash tests/gpu/pack_sysroot.sh && bash tests/gpu/rehearse.sh [CLONE_DIR]
#
# CLONE_DIR (default /tmp/nxt-rehearsal) and CLONE_DIR.tools are replaced. Root only (unshare -m, mount). The check's
# output goes to $OUT (default CLONE_DIR.out). Prints the check's output, then the carried size
# and an audit: this machine has every carried library installed too, so a build that quietly
# took one of this machine's (a header folder, a library, protoc, the CUDA toolkit) instead of
# the sysroot's would pass here and fail on the device; the audit fails the rehearsal then.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
clone=${1:-/tmp/nxt-rehearsal}
venv_python=$repo/.venv/bin/python
[[ $(id -u) -eq 0 ]] || { echo "rehearse: needs root (unshare -m)" >&2; exit 1; }
[[ -f "$repo/.gpu_deps/sysroot.tar.xz" ]] ||
  { echo "rehearse: run tests/gpu/pack_sysroot.sh first" >&2; exit 1; }
[[ -x "$venv_python" ]] || { echo "rehearse: no $venv_python (bash launch/python_env.sh)" >&2; exit 1; }

rm -rf "$clone"
if [[ "${NXT_REHEARSE_TREE:-clone}" == worktree ]]; then
  mkdir -p "$clone"
  (cd "$repo" && git ls-files -z -co --exclude-standard |
    while IFS= read -r -d '' file; do [[ ! -f "$file" ]] || printf '%s\0' "$file"; done |
    tar --null -T - -cf -) | tar -C "$clone" -xf -
  git -C "$clone" init -q  # so that the sizes below read the same lists
else
  git clone -q "$repo" "$clone"
fi
mkdir -p "$clone/.gpu_deps"
cp "$repo/.gpu_deps/sysroot.tar.xz" "$clone/.gpu_deps/"
# What the run call sends: tracked files, untracked ones git does not ignore, the carried paths.
carried_kib=$(cd "$clone" && { git ls-files -z; git ls-files -z -o --exclude-standard; } |
  du -ck --files0-from=- | tail -1 | cut -f1)
deps_kib=$(du -sk "$clone/.gpu_deps" | cut -f1)

# PATH without ssh, rsh and nvcc; python3 is the venv's (a wrapper: a symbolic link would make
# Python look for its venv next to the link).
# Kept after the run (CLONE_DIR.tools): the build folder's cache names the compilers through it.
tools=$clone.tools
rm -rf "$tools"
mkdir -p "$tools"
rehearsal_path=$(bash "$repo/tests/gpu/path_without.sh" "$tools/bin" ssh rsh slogin nvcc python3)
printf '#!/bin/sh\nexec %q "$@"\n' "$venv_python" >"$tools/bin/python3"
chmod +x "$tools/bin/python3"
toolkit=$(readlink -f "${CUDA_HOME:-/usr/local/cuda}")
mkdir -p "$tools/empty"

if [[ "${NXT_REHEARSE_OLD_GLIBC:-1}" == 1 ]]; then
  # Unpacked where check.sh looks, with the stamp that makes it keep this copy.
  sysroot=$clone/build-gpu/_sysroot
  mkdir -p "$sysroot"
  tar -xJf "$clone/.gpu_deps/sysroot.tar.xz" -C "$sysroot"
  stat -c '%s %Y' "$clone/.gpu_deps/sysroot.tar.xz" >"$sysroot/.stamp"
  python3 - "$sysroot"/usr/lib/x86_64-linux-gnu/libevent_core-*.so.*.* <<'PY'
import sys
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    assert data.count(b"GLIBC_2.36\0") == 1, path
    open(path, "wb").write(data.replace(b"GLIBC_2.36\0", b"GLIBC_2.99\0"))
    print("rehearse: %s now needs GLIBC_2.99 (weak), as a glibc 2.35 machine sees 2.36" % path)
PY
  export NXT_CHECK_ARC4RANDOM=1
fi

export OUT=${OUT:-$clone.out} NXT_CHECK_DEVICE=${NXT_CHECK_DEVICE:-cpu}
export NXT_CHECK_BATCH=${NXT_CHECK_BATCH:-4} NXT_CHECK_STEPS=${NXT_CHECK_STEPS:-4}
# Every phase's cap x8 and a longer deadline: this machine's build is that much slower.
export NXT_CHECK_SIZE=${NXT_CHECK_SIZE:-64} NXT_CHECK_BUDGET_S=${NXT_CHECK_BUDGET_S:-3000}
export NXT_CHECK_CAP_SCALE=${NXT_CHECK_CAP_SCALE:-8}
rc=0
# shellcheck disable=SC2016  # expanded by the inner shell
env -u CUDA_HOME -u LIBRARY_PATH -u NXT_CHECK_PYTHON PATH="$rehearsal_path" \
  unshare -m bash -c 'mount --bind "$1" "$2" && exec bash "$3/tests/gpu/check.sh"' \
  rehearse "$tools/empty" "$toolkit" "$clone" || rc=$?
echo "rehearse: carried to the device: working tree $((carried_kib / 1024)) MiB +" \
  ".gpu_deps $((deps_kib / 1024)) MiB = $(((carried_kib + deps_kib) / 1024)) MiB (limit 64 MiB)"

# The audit: build commands that name this machine's copy of a carried dependency, and libraries
# nxt_ddp loaded from this machine beyond the base every Linux has (glibc, the compiler's runtime).
headers='include/(hdf5|opencv4|yaml-cpp|CLI|nlohmann|gtest|gmock|turbojpeg\.h|google|boost)'
libraries='lib/x86_64-linux-gnu/(openmpi|hdf5|pmix|lib(mpi|hdf5|opencv|yaml|turbojpeg|protobuf|gtest|gmock|event|hwloc))'
machine_paths=$(cat "$clone"/build-gpu/{compile_commands.json,build.ninja} 2>/dev/null |
  grep -oE "(^|[ ;:=\"'])/usr/($headers|$libraries|local/cuda|bin/protoc)[^ ;:\"']*" | sort -u || true)
base='^(libc|libm|libmvec|libdl|librt|libpthread|libresolv|libutil|libanl|libnss_[a-z]+|libstdc\+\+|libgcc_s|libgomp|libz|ld-linux-x86-64)\.so'
machine_libs=$(sed -n 's/^nxt_ddp libraries from the machine (not the sysroot, not torch)://p' "$OUT/check.txt" |
  tr ' ' '\n' | grep . | grep -vE "$base" || true)
if [[ ! -f "$clone/build-gpu/compile_commands.json" ]]; then
  echo "rehearse: nothing was configured, nothing to audit"
  exit 1
fi
if [[ -n "$machine_paths$machine_libs" ]]; then
  echo "rehearse: FAILED the audit: the build used this machine's files, the device has none:"
  echo "$machine_paths" "$machine_libs"
  exit 1
fi
echo "rehearse: audit ok (no build command names this machine's carried dependencies; nxt_ddp" \
  "loads only glibc and the compiler's runtime from the machine)"
exit $rc
