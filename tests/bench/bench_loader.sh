#!/usr/bin/env bash
# Benchmark (not a test): loader images/s per rank on one core (taskset -c 0), at 224px, for
#  - nxt's loader over a pack_hdf5 file, with augmentation (random-resized crop + flip), and
#  - the notebook's pipeline: ImageFolder + Resize + ToTensor + Normalize through a DataLoader,
#    over the same images as JPEG files,
# in one run on this machine, with the ratio. Also nxt's peak RSS for two dataset sizes, to
# show that it does not grow with the dataset. Then the stronger augmentation, nxt against
# torchvision's reference training pipeline (RandomResizedCrop + flip + TrivialAugmentWide or
# ColorJitter(0.4) over the same JPEGs): trivial, jitter, and both.
#   tests/bench/bench_loader.sh [IMAGES=4000] [SOURCE_SIZE=256]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin="${NXT_BUILD_DIR:-$repo/build}/bin"
count=${1:-4000}
source_size=${2:-256}
work=${BENCH_DIR:-$(mktemp -d)}
per_class=$(( count / 4 ))
[[ -d "$work/images" ]] || "$bin/nxt_make_demo_images" --output "$work/images" --per-class "$per_class" --size "$source_size" >/dev/null
[[ -f "$work/data.h5" ]] || "$bin/nxt_pack_hdf5" --input "$work/images" --output "$work/data.h5" --size 224 --val-fraction 0 --quiet >/dev/null
[[ -f "$work/small.h5" ]] || "$bin/nxt_pack_hdf5" --input "$work/images" --output "$work/small.h5" --size 224 --val-fraction 0.75 --quiet >/dev/null
cat "$work/data.h5" >/dev/null  # both sides read from the page cache
one_core=(taskset -c 0)
rate_of() { grep -o '= [0-9.]* img/s' "$1" | cut -d' ' -f2; }
"${one_core[@]}" "$bin/nxt_bench_loader" "$work/data.h5" --epochs 2 | tee "$work/nxt.txt"
"${one_core[@]}" "$bin/nxt_bench_loader" "$work/data.h5" --epochs 2 --crop none --no-flip
"${one_core[@]}" "$bin/nxt_bench_loader" "$work/small.h5" --epochs 8 | tee "$work/small.txt"
"${one_core[@]}" /usr/bin/python3 "$repo/tests/bench/loader_python.py" "$work/images" 224 "$count" | tee "$work/py.txt"
nxt_rate=$(rate_of "$work/nxt.txt")
py_rate=$(rate_of "$work/py.txt")
echo "source: $((per_class * 4)) JPEG ${source_size}px; model input 224px; one core"
echo "nxt loader (augmented): $nxt_rate img/s; notebook pipeline: $py_rate img/s; ratio $(echo "scale=1; $nxt_rate / $py_rate" | bc)x"

# Stronger augmentation: nxt vs torchvision's equivalent pipeline, same images, one core.
for variant in "trivial:--auto-augment trivial" "jitter:--color-jitter 0.4" \
               "trivial+jitter:--auto-augment trivial --color-jitter 0.4"; do
  name=${variant%%:*}
  read -r -a flags <<<"${variant#*:}"
  "${one_core[@]}" "$bin/nxt_bench_loader" "$work/data.h5" --epochs 2 "${flags[@]}" | tee "$work/nxt_$name.txt"
  "${one_core[@]}" /usr/bin/python3 "$repo/tests/bench/loader_python.py" "$work/images" 224 "$count" \
    --augment "${flags[@]}" | tee "$work/py_$name.txt"
  nxt_rate=$(rate_of "$work/nxt_$name.txt")
  py_rate=$(rate_of "$work/py_$name.txt")
  echo "$name: nxt $nxt_rate img/s; torchvision $py_rate img/s; ratio $(echo "scale=1; $nxt_rate / $py_rate" | bc)x"
done
