#!/usr/bin/env bash
# Benchmark (not a test): the data path at ImageNet scale (issue 24), on IMAGES photos of
# ImageNet's size distribution (make_demo_images --photos: shorter side 200-500 px, ~400x350,
# JPEG q90), made once and cached outside the repository (NXT_BENCH_CACHE, default
# ~/.cache/nxt-bench). Measures, in one run on this machine:
#  - pack time and img/s per thread, and the file size, for --store raw|jpeg|mixed at
#    --max-side 256 and 512 (512 raw and mixed on a 1/10 subset when the disk is short: their
#    size is linear in the images, and the script says so);
#  - the loader's img/s on one core (taskset -c 0) for each storage at training size 176 and
#    224, RandomResizedCrop + flip, warm (pages cached) and cold (the file's pages dropped
#    before each epoch: posix_fadvise DONTNEED), with the file and storage bytes read per image;
#    beside torchvision's RandomResizedCrop pipeline over the original JPEG files (the Python
#    way) on the same core;
#  - peak resident memory of a loader over the 10k subset and over all IMAGES;
# and prints the extrapolation to ImageNet's 1,281,167 training images: pack time and file
# size, and the cores per GPU the loader needs at 3,000 img/s per GPU.
#   tests/bench/bench_imagenet_scale.sh [IMAGES=100000] [SAMPLE=4000]
# SAMPLE: images per loader measurement (a random sample of the file: the shuffle's first).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin="${NXT_BUILD_DIR:-$repo/build}/bin"
python="$repo/.venv/bin/python"
count=${1:-100000}
sample=${2:-4000}
cache=${NXT_BENCH_CACHE:-$HOME/.cache/nxt-bench}
photos=$cache/photos-$count
subset=$cache/photos-$((count / 10))
work=${BENCH_DIR:-$cache/work-$count}
mkdir -p "$work"
one_core=(taskset -c 0)
imagenet=1281167

classes=100
if [[ ! -d "$photos" ]]; then
  "$bin/nxt_make_demo_images" --photos --output "$photos.part" --classes "$classes" \
    --per-class $((count / classes)) --threads "$(nproc)" && mv "$photos.part" "$photos"
fi
if [[ ! -d "$subset" ]]; then  # the first tenth of every class
  mkdir -p "$subset.part"
  for dir in "$photos"/*/; do
    name=$(basename "$dir"); mkdir -p "$subset.part/$name"
    mapfile -t files < <(ls "$dir" | sort)
    for f in "${files[@]:0:$((count / classes / 10))}"; do ln -s "$dir$f" "$subset.part/$name/$f"; done
  done
  mv "$subset.part" "$subset"
fi
photo_bytes=$(du -sb --apparent-size "$photos" | cut -f1)
echo "photos: $count in $classes classes, $((photo_bytes / count)) bytes each on average"

# --- packing ---------------------------------------------------------------------------------
# File sizes from packs of all IMAGES (kept in $work for the loader runs; made once). Pack
# rates from packing the 1/10 subset afresh in this run, so that they are this run's figures.
declare -A pack_rate file_size
pack() {  # name input side store images: the file $work/name.h5, made once
  local name=$1 input=$2 side=$3 store=$4 images=$5 out="$work/$1.h5"
  [[ -f "$out" ]] || "$bin/nxt_pack_hdf5" --input "$input" --output "$out" --max-side "$side"     --store "$store" --val-fraction 0 --threads 2 --quiet >/dev/null
  # Bytes of the file, scaled to IMAGES.
  file_size[$name]=$(( $(stat -c %s "$out") * count / images ))
}
free_gb() { df -BG --output=avail "$work" | tail -1 | tr -dc 0-9; }
for store in raw jpeg mixed; do pack "${store}256" "$photos" 256 "$store" "$count"; done
pack jpeg512 "$photos" 512 jpeg "$count"
for store in raw mixed; do
  if [[ -f "$work/${store}512.h5" ]] || (( $(free_gb) > 60 )); then
    pack "${store}512" "$photos" 512 "$store" "$count"
  else
    echo "(disk: $(free_gb) GB free: ${store}512 packed from the 1/10 subset, its size scaled x10)"
    pack "${store}512" "$subset" 512 "$store" $((count / 10))
  fi
done
pack raw256_small "$subset" 256 raw $((count / 10))
for side in 256 512; do
  for store in raw jpeg mixed; do
    sync
    rate=$("$bin/nxt_pack_hdf5" --input "$subset" --output "$work/rate.h5" --max-side "$side"              --store "$store" --val-fraction 0 --threads 2 --quiet |
           grep -o '([0-9.]* img/s' | tr -d '(' | cut -d' ' -f1)
    pack_rate[$store$side]=$rate
    rm -f "$work/rate.h5"
  done
done

printf '\n%-10s %12s %14s %16s %18s %14s\n' file "img/s (2 thr)" "GB at $count" "GB at ImageNet" "FFCV GB (ImageNet)" "pack h ImageNet"
declare -A ffcv=([raw256]=170 [jpeg256]=22 [mixed256]=58)
for name in raw256 jpeg256 mixed256 raw512 jpeg512 mixed512; do
  gb=$(echo "scale=2; ${file_size[$name]} / 10^9" | bc)
  gb_imagenet=$(echo "scale=1; ${file_size[$name]} * $imagenet / $count / 10^9" | bc)
  hours=$(echo "scale=2; $imagenet / ${pack_rate[$name]} / 3600" | bc)
  printf '%-10s %12s %14s %16s %18s %14s\n' "$name" "${pack_rate[$name]}" "$gb" "$gb_imagenet" \
    "${ffcv[$name]:--}" "$hours"
done

# --- loading ----------------------------------------------------------------------------------
declare -A rate
load() {  # name side warm|cold
  local line
  line=$("${one_core[@]}" "$bin/nxt_bench_loader" "$work/$1.h5" --size "$2" --"$3" \
           --images "$sample" --epochs 1 --threads 1)
  echo "$line"
  rate[$1.$2.$3]=$(echo "$line" | grep -o '= [0-9.]* img/s' | cut -d' ' -f2)
}
echo
for name in raw256 jpeg256 mixed256 jpeg512; do
  for side in 176 224; do
    for cache_state in warm cold; do load "$name" "$side" "$cache_state"; done
  done
done
for side in 176 224; do
  "${one_core[@]}" "$python" "$repo/tests/bench/loader_python.py" "$photos" "$side" "$sample" \
    --augment | tee "$work/py$side.txt"
  rate[python.$side]=$(grep -o '= [0-9.]* img/s' "$work/py$side.txt" | cut -d' ' -f2)
done

echo
echo "peak resident memory of one loader (raw, 256, warm, $sample images) over the subset and over all:"
"${one_core[@]}" "$bin/nxt_bench_loader" "$work/raw256_small.h5" --size 224 --warm --images "$sample" | grep -o 'peak RSS [0-9]* MB'
"${one_core[@]}" "$bin/nxt_bench_loader" "$work/raw256.h5" --size 224 --warm --images "$sample" | grep -o 'peak RSS [0-9]* MB'

printf '\n%-10s %6s %12s %12s %14s %16s\n' file size "warm img/s" "cold img/s" "x torchvision" "cores/GPU @3000"
for name in raw256 jpeg256 mixed256 jpeg512; do
  for side in 176 224; do
    warm=${rate[$name.$side.warm]} cold=${rate[$name.$side.cold]}
    printf '%-10s %6s %12s %12s %14s %16s\n' "$name" "$side" "$warm" "$cold" \
      "$(echo "scale=1; $warm / ${rate[python.$side]}" | bc)" "$(echo "scale=1; 3000 / $warm" | bc)"
  done
done
echo "torchvision (PIL, RandomResizedCrop + flip, original JPEGs): 176: ${rate[python.176]} img/s, 224: ${rate[python.224]} img/s on one core"
