#!/usr/bin/env bash
# Benchmark (not a test): pack the same folder of JPEGs with pack_hdf5 --threads 2 and with the
# obvious Python way (PIL + h5py, one process), on this machine in one run; report images/s,
# the ratio, and peak resident memory.
#   tests/bench/bench_pack.sh [IMAGES=10000] [SOURCE_SIZE=256] [PACK_SIZE=224]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin="${NXT_BUILD_DIR:-$repo/build}/bin"
count=${1:-10000}
source_size=${2:-256}
size=${3:-224}
work=${BENCH_DIR:-$(mktemp -d)}
per_class=$(( count / 4 ))
[[ -d "$work/images" ]] || "$bin/nxt_make_demo_images" --output "$work/images" --per-class "$per_class" --size "$source_size"
sync
measure() {  # label, command...: prints the command's own line and its peak RSS
  local label=$1; shift
  rm -f "$work/nxt.h5" "$work/py.h5"
  sync  # the previous run's dirty pages must not be written back during this one
  /usr/bin/time -f "$label peak RSS %M KB, wall %e s" "$@" 2>&1 | grep -E "img/s|peak RSS"
}
measure nxt "$bin/nxt_pack_hdf5" --input "$work/images" --output "$work/nxt.h5" --size "$size" \
  --threads 2 --val-fraction 0.2 --quiet | tee "$work/nxt.txt"
measure python /usr/bin/python3 "$repo/tests/bench/pack_python.py" "$work/images" "$work/py.h5" "$size" | tee "$work/py.txt"
nxt_rate=$(grep -o '([0-9.]* img/s' "$work/nxt.txt" | tr -d '(' | cut -d' ' -f1)
py_rate=$(grep -o '= [0-9.]* img/s' "$work/py.txt" | cut -d' ' -f2)
echo "images: $((per_class * 4)) JPEG ${source_size}px -> ${size}px"
echo "pack_hdf5 --threads 2: $nxt_rate img/s; python (PIL + h5py): $py_rate img/s; ratio $(echo "scale=2; $nxt_rate / $py_rate" | bc)x"
