#!/usr/bin/env bash
# Packs, on this Debian 12 machine, what the GPU check needs to build and run nxt on a machine
# that has a CUDA PyTorch but no MPI, HDF5, yaml-cpp, OpenCV, CLI11 or GoogleTest:
# headers, CMake files and the shared libraries (with their own dependencies, glibc and the
# compiler's runtime excepted), Open MPI's and PMIx's plugin trees and launchers. Symlinks that
# point outside the tree (Debian's /etc/alternatives) are replaced by their targets.
# None of glibc's libraries is carried (libc, libm, libpthread, libdl, librt, libresolv,
# libnss_*, libanl, libutil, ld-linux, ...): put on LD_LIBRARY_PATH next to the device's own
# glibc, one of them would load into processes built against another version and crash them
# (libresolv came in through libcurl, a dependency of HDF5). The pack fails if one slips in.
#
#   tests/gpu/pack_sysroot.sh            # -> .gpu_deps/sysroot.tar.xz (git-ignored)
#
# On the device: tar -xJf .gpu_deps/sysroot.tar.xz -C DIR; tests/gpu/check.sh does it.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.gpu_deps
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
L=/usr/lib/x86_64-linux-gnu

# What is carried whole (headers, CMake packages, Open MPI/PMIx installation trees).
trees=(
  /usr/include/hdf5/serial /usr/include/yaml-cpp /usr/include/opencv4 /usr/include/CLI /usr/include/nlohmann
  /usr/include/x86_64-linux-gnu/opencv4 /usr/include/gtest /usr/include/gmock "$L/cmake/yaml-cpp" "$L/cmake/GTest"
  "$L/hdf5/serial" "$L/openmpi" "$L/pmix2" /usr/share/openmpi /usr/share/pmix /etc/openmpi
  /usr/bin/orted /usr/bin/orterun /usr/bin/mpirun /usr/bin/mpirun.openmpi /usr/bin/mpiexec
  /usr/bin/mpiexec.openmpi /usr/bin/ompi_info
  "$L/libgtest.a" "$L/libgtest_main.a" "$L/libgmock.a" "$L/libgmock_main.a"
)
# The shared libraries our programs and the launchers load, found with ldd.
roots=("$L/libopencv_core.so.406" "$L/libopencv_imgproc.so.406" "$L/libhdf5_serial.so.103"
       "$L/libmpi.so.40" "$L/libyaml-cpp.so.0.7" "$L/libpmix.so.2" /usr/bin/orted /usr/bin/orterun)
roots+=("$L"/openmpi/lib/openmpi3/*.so "$L"/pmix2/lib/pmix/*.so)
# Present on any machine that can build C++: every library of glibc, the compiler's runtime, zlib.
glibc='libc|libm|libmvec|libdl|librt|libpthread|libresolv|libnss_[a-z0-9_]+|libanl|libutil|libBrokenLocale|libthread_db|libc_malloc_debug|libmemusage|libpcprofile|libSegFault|ld-linux-x86-64'
system="/($glibc|libstdc\\+\\+|libgcc_s|libgomp|libz)\\.so"

libraries() {
  for f in "$@"; do
    echo "$f"
    ldd "$f" 2>/dev/null | awk '$3 ~ /^\// { print $3 }'
  done | sort -u | grep -vE "$system"
}

copy() {  # copies a path into the stage with its parents, keeping relative symlinks
  local path=$1
  [[ -e "$path" || -L "$path" ]] || return 0
  (cd / && cp -a --parents "${path#/}" "$stage")
}

for tree in "${trees[@]}"; do copy "$tree"; done
for lib in $(libraries "${roots[@]}"); do
  # The file and every name that points to it in its folder (soname and -dev links).
  real=$(readlink -f "$lib")
  copy "$real"
  base=$(basename "$lib" | sed 's/\.so.*/.so/')
  for name in "$(dirname "$lib")/$base"*; do copy "$name"; done
  [[ "$(dirname "$lib")" == "$(dirname "$real")" ]] || copy "$lib"
done
# Absolute symlinks would point back into the build machine's /: replace them by their targets.
find "$stage" -type l | while read -r link; do
  target=$(readlink "$link")
  if [[ "$target" == /* ]]; then
    resolved=$(readlink -f "$link" 2>/dev/null || true)
    rm "$link"
    if [[ -e "$resolved" ]]; then cp -aL "$resolved" "$link"; fi
  fi
done
# No glibc library may be carried, whichever way it came in (a tree, a dependency).
leaked=$(find "$stage" \( -type f -o -type l \) | grep -E "/($glibc)[.-][^/]*\.so(\.[0-9.]+)?$|/($glibc)\.so(\.[0-9.]+)?$" || true)
if [[ -n "$leaked" ]]; then
  echo "pack_sysroot: glibc libraries in the sysroot (they must come from the device):" >&2
  echo "$leaked" >&2
  exit 1
fi
mkdir -p "$out"
tar -C "$stage" -cJf "$out/sysroot.tar.xz" .
echo "pack_sysroot: $out/sysroot.tar.xz: $(du -h "$out/sysroot.tar.xz" | cut -f1)," \
  "$(find "$stage" -type f | wc -l) files, $(du -sh "$stage" | cut -f1) unpacked"
