#!/usr/bin/env bash
# Packs, on this Debian 12 machine, what the GPU check needs to build and run nxt on a machine
# that has a CUDA PyTorch but no MPI, HDF5, yaml-cpp, OpenCV, CLI11, GoogleTest, TurboJPEG,
# Protocol Buffers or Boost: headers, CMake files and the shared libraries (with their own
# dependencies, glibc and the compiler's runtime excepted), Open MPI's and PMIx's plugin trees
# and launchers, protoc (run by the build), and of Boost only the headers <boost/crc.hpp> pulls
# in, ninja (the device may have none; check.sh prefers the machine's own), and the CUDA
# toolkit's include/crt headers (under usr/share/nxt-sysroot/cuda/include: torch's CUDA wheels
# lack them, and a device without nvcc builds against those wheels' headers, cuda_from_wheel.sh).
# Symlinks that point outside the tree (Debian's /etc/alternatives) are replaced by their
# targets. usr/bin/protoc is a wrapper that runs Debian's protoc (usr/bin/protoc.bin) with the
# sysroot's libprotoc/libprotobuf, wherever the sysroot is unpacked and whatever the caller's
# LD_LIBRARY_PATH: the device has neither library, or other versions.
# usr/share/nxt-sysroot/requires records the newest glibc and libstdc++ (GLIBCXX) symbol versions
# the carried programs and libraries need (tests/gpu/elf_versions.py, which also makes libevent's
# glibc 2.36 need for arc4random weak): check.sh compares them with the device's.
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
  /usr/bin/mpiexec.openmpi /usr/bin/ompi_info /usr/bin/ninja
  "$L/libgtest.a" "$L/libgtest_main.a" "$L/libgmock.a" "$L/libgmock_main.a"
  /usr/include/turbojpeg.h /usr/include/google/protobuf
)
# The shared libraries our programs and the launchers load, found with ldd.
roots=("$L/libopencv_core.so.406" "$L/libopencv_imgproc.so.406" "$L/libhdf5_serial.so.103"
       "$L/libmpi.so.40" "$L/libyaml-cpp.so.0.7" "$L/libpmix.so.2" /usr/bin/orted /usr/bin/orterun
       "$L/libturbojpeg.so.0" "$L/libprotobuf-lite.so.32" "$L/libprotobuf.so.32" /usr/bin/protoc
       /usr/bin/ninja)
roots+=("$L"/openmpi/lib/openmpi3/*.so "$L"/pmix2/lib/pmix/*.so)
# Present on any machine that can build C++: every library of glibc, the compiler's runtime, zlib.
glibc='libc|libm|libmvec|libdl|librt|libpthread|libresolv|libnss_[a-z0-9_]+|libanl|libutil|libBrokenLocale|libthread_db|libc_malloc_debug|libmemusage|libpcprofile|libSegFault|ld-linux-x86-64'
system="/($glibc|libstdc\\+\\+|libgcc_s|libgomp|libz)\\.so"
# Boost.CRC is header-only: the headers <boost/crc.hpp> includes, as GCC (and clang, whose
# boost/config/compiler header differs) resolve them, not the whole of /usr/include/boost.
boost_headers() {
  local cxx
  for cxx in "${CXX:-g++}" clang++; do
    command -v "$cxx" >/dev/null || continue
    "$cxx" -std=c++17 -M -x c++ - <<<'#include <boost/crc.hpp>' | tr -s '\\ ' '\n' |
      grep -E '^/usr/include/boost/' || true
  done | sort -u
}

# ldd names a library by the folder it was found in: /lib/x86_64-linux-gnu for most, which on a
# merged-/usr Debian is /usr/lib/x86_64-linux-gnu. Each is carried under the latter, the folder
# check.sh puts on LD_LIBRARY_PATH (and CMake on the RPATH, where the linker looks for the
# libraries our libraries need), sonames and -dev links included; a tree under lib/ would not
# be searched, and its sonames would be missing from usr/lib.
libraries() {
  for f in "$@"; do
    echo "$f"
    ldd "$f" 2>/dev/null | awk '$3 ~ /^\// { print $3 }'
  done | sort -u | grep -vE "$system" | while read -r lib; do
    echo "$(readlink -f "$(dirname "$lib")")/$(basename "$lib")"
  done | sort -u
}

copy() {  # copies a path into the stage with its parents, keeping relative symlinks
  local path=$1
  [[ -e "$path" || -L "$path" ]] || return 0
  (cd / && cp -a --parents "${path#/}" "$stage")
}

for tree in "${trees[@]}"; do copy "$tree"; done
crt=$(readlink -f "${CUDA_HOME:-/usr/local/cuda}")/include/crt
[[ -f "$crt/host_defines.h" ]] ||
  { echo "pack_sysroot: no CUDA toolkit headers in $crt (CUDA_HOME names the toolkit)" >&2; exit 1; }
mkdir -p "$stage/usr/share/nxt-sysroot/cuda/include"
cp -r "$crt" "$stage/usr/share/nxt-sysroot/cuda/include/crt"
boost=$(boost_headers)
grep -qx /usr/include/boost/crc.hpp <<<"$boost" ||
  { echo "pack_sysroot: boost/crc.hpp not found (apt-get install libboost-dev)" >&2; exit 1; }
for header in $boost; do copy "$header"; done
for lib in $(libraries "${roots[@]}"); do
  # The file and every name that points to it in its folder (soname and -dev links).
  real=$(readlink -f "$lib")
  copy "$real"
  base=$(basename "$lib" | sed 's/\.so.*/.so/')
  for name in "$(dirname "$lib")/$base"*; do copy "$name"; done
  [[ "$(dirname "$lib")" == "$(dirname "$real")" ]] || copy "$lib"
done
# protoc, run by the build on the device: the binary beside a wrapper that gives it the
# sysroot's libraries (not those of the whole build: the device's compiler would load them too).
mv "$stage/usr/bin/protoc" "$stage/usr/bin/protoc.bin"
cat >"$stage/usr/bin/protoc" <<'SH'
#!/bin/sh
# Debian's protoc (protoc.bin) with the libprotoc/libprotobuf of this sysroot (tests/gpu/pack_sysroot.sh).
here=$(cd "$(dirname "$0")" && pwd -P)
LD_LIBRARY_PATH="$here/../lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$here/protoc.bin" "$@"
SH
chmod 755 "$stage/usr/bin/protoc"
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
# Debian 12's libevent asks glibc 2.36 for arc4random alone: that need is made weak (the device
# may have glibc 2.35; check.sh then provides arc4random), and what the rest needs is recorded.
python3 tests/gpu/elf_versions.py weaken "$stage"
mkdir -p "$stage/usr/share/nxt-sysroot"
python3 tests/gpu/elf_versions.py requires "$stage" >"$stage/usr/share/nxt-sysroot/requires"
mkdir -p "$out"
tar -C "$stage" -cJf "$out/sysroot.tar.xz" .
echo "pack_sysroot: $out/sysroot.tar.xz: $(du -h "$out/sysroot.tar.xz" | cut -f1)," \
  "$(find "$stage" -type f | wc -l) files, $(du -sh "$stage" | cut -f1) unpacked; needs" \
  "$(tr '\n' ' ' <"$stage/usr/share/nxt-sysroot/requires")"
