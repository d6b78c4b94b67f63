#!/usr/bin/env bash
# Benchmark (not a test): what three parts of the ImageNet recipe (configs/imagenet.yaml) buy on
# a small synthetic set, with the spread over seeds: the EMA of the weights, low-resolution
# training evaluated at full size (FixRes), and flip test-time augmentation. CPU, 2 ranks.
#
# Data: the demo's kind of scenes (nxt_make_demo_images --easy), made harder: 6 classes instead
# of 4, at 64px instead of 32, packed at 64 with 30% for val. (Without --easy, small off-centre
# shapes with distractors, this model stays near 25% after 15 epochs: no signal in budget.)
# Model: a small custom ResNeXt with the ImageNet stem (7x7/2 conv + max-pool, so the feature
# maps scale with the input size as on ImageNet), random-resized crops + flips, Adam 2e-3 +
# cosine (the demo's; SGD at this step count learns too little), label smoothing, the same
# epochs for every run. One training per seed and training size, all with the EMA on and all
# evaluated at 64 (data.eval_size 64), by default (BENCH_TRAIN_SIZES) at
#   64  the full size;
#   48  the recipe's ratio (torchvision trains at 176 for 224: 0.79; 48/64 = 0.75);
#   32  half the size (a larger gap than either recipe uses: FFCV's 160 for 224 is 0.71).
# Each training yields, from one run (the EMA does not change the raw weights' training):
#   raw    the final epoch's val accuracy of the weights (metrics.csv val_acc);
#   EMA    the final epoch's val accuracy of their EMA (val_acc_ema, the last columns);
# and best.pt (the best raw epoch) is then evaluated by nxt_eval with --tta none and --tta flip.
# Prints a markdown table: mean +- sample std over the seeds, the paired difference seed by
# seed (EMA vs weights, flip vs no TTA, a smaller training size vs the first), and the seconds
# (training: the whole nxt_ddp run, evaluation included; TTA: the nxt_eval run).
#
# BENCH_DIR keeps data and runs (default: a temporary folder); BENCH_SEEDS (default "1 2 3"),
# BENCH_TRAIN_SIZES (default "64 48 32"), BENCH_EPOCHS (default 20), BENCH_PER_CLASS (images per
# class, default 300). Budget: 14 minutes with the defaults on the idle 2-core VM (training
# ~100 s at 64, ~80 at 48, ~70 at 32 per seed; 6 evaluations of 2 s), ~22 under a load of 4.
# Results, 2026-12-02: docs/performance.md, "Recipe parts on synthetic data".
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin="${NXT_BUILD_DIR:-$repo/build}/bin"
work=${BENCH_DIR:-$(mktemp -d)}
seeds=${BENCH_SEEDS:-1 2 3}
epochs=${BENCH_EPOCHS:-20}
per_class=${BENCH_PER_CLASS:-300}
mkdir -p "$work"
for program in nxt_make_demo_images nxt_pack_hdf5 nxt_ddp nxt_eval; do
  [[ -x "$bin/$program" ]] || { echo "bench_recipe: $bin/$program is not built" >&2; exit 1; }
done

data="$work/scenes64_${per_class}.h5"
if [[ ! -f "$data" ]]; then
  rm -rf "$work/images"
  "$bin/nxt_make_demo_images" --output "$work/images" --classes 6 --per-class "$per_class" \
    --size 64 --seed 11 --easy >/dev/null
  "$bin/nxt_pack_hdf5" --input "$work/images" --output "$data" --size 64 --val-fraction 0.3 \
    --seed 11 --quiet >/dev/null
fi

# The recipe's parts at this scale. EMA: one update per step; torchvision's adjustment makes
# the per-update decay 1 - (1 - 0.99) x 32 x 1 / epochs (0.984 at 20 epochs): an average over
# the last ~60 steps, 4% of the 1,580 steps, as torchvision's 0.99998 every 32 steps is over
# its 600 epochs.
common=(--set data.path="$data" --set data.batch_size=16 --set data.image_size=64
        --set data.normalize=dataset --set data.crop=random_resized --set data.min_crop_scale=0.25
        --set data.hflip=true --set data.loader_threads=1
        --set model.arch=custom --set model.blocks=[1,1,1] --set model.cardinality=8
        --set model.width_per_group=4 --set model.stem_width=32 --set model.stem=imagenet
        --set optim.name=adam --set optim.lr=2e-3 --set optim.schedule=cosine
        --set optim.warmup_epochs=1
        --set train.epochs="$epochs" --set train.label_smoothing=0.1
        --set train.ema_decay=0.99 --set train.ema_every_steps=1
        --set train.log_every_seconds=1000 --set run.threads_per_rank=1
        --set run.out_dir="$work/runs" --set dist.backend=mpi)
train_sizes=${BENCH_TRAIN_SIZES:-64 48 32}

results="$work/results.txt"  # variant seed accuracy seconds
: >"$results"
now() { date +%s.%N; }
for seed in $seeds; do
  for size in $train_sizes; do
    variant="train$size"
    name="${variant}_seed$seed"
    rm -rf "$work/runs/$name"
    start=$(now)
    "$repo/launch/nxt_mpirun" -np 2 "$bin/nxt_ddp" "${common[@]}" --set run.seed="$seed" \
      --set run.name="$name" --set data.train_size="$size" \
      --set data.eval_size=64 >"$work/$name.log" 2>&1 ||
      { tail -20 "$work/$name.log"; echo "bench_recipe: training $name failed" >&2; exit 1; }
    seconds=$(bc -l <<<"$(now) - $start")
    metrics="$work/runs/$name/metrics.csv"
    # The last row's val_acc (column 4) and val_acc_ema (column 10), checked by name.
    header=$(head -1 "$metrics")
    [[ $(cut -d, -f4 <<<"$header") == val_acc && $(cut -d, -f10 <<<"$header") == val_acc_ema ]] ||
      { echo "bench_recipe: unexpected metrics.csv header: $header" >&2; exit 1; }
    last=$(tail -1 "$metrics")
    [[ -n $(cut -d, -f10 <<<"$last") ]] ||
      { echo "bench_recipe: no val_acc_ema in $metrics (is the EMA on?)" >&2; exit 1; }
    echo "$variant/raw $seed $(cut -d, -f4 <<<"$last") $seconds" >>"$results"
    echo "$variant/EMA $seed $(cut -d, -f10 <<<"$last") $seconds" >>"$results"
    for tta in none flip; do
      start=$(now)
      "$repo/launch/nxt_mpirun" -np 2 "$bin/nxt_eval" --checkpoint "$work/runs/$name/best.pt" \
        --data "$data" --tta "$tta" --threads 1 >"$work/$name.eval_$tta.log" 2>&1 ||
        { tail -20 "$work/$name.eval_$tta.log"; echo "bench_recipe: nxt_eval failed" >&2; exit 1; }
      accuracy=$(sed -nE 's/^accuracy +([0-9.]+) .*/\1/p' "$work/$name.eval_$tta.log")
      [[ -n "$accuracy" ]] ||
        { echo "bench_recipe: no accuracy line in nxt_eval's output" >&2; exit 1; }
      echo "$variant/best.pt_tta_$tta $seed $accuracy $(bc -l <<<"$(now) - $start")" >>"$results"
    done
    echo "$name: $(grep -c . "$results") results so far ($(printf '%.0f' "$seconds") s training)"
  done
done

echo
echo "Recipe parts on $(basename "$data") (6 classes x $per_class images at 64px, 70/30 split)," \
  "2 ranks x batch 16, $epochs epochs, seeds: $seeds"
echo
# Paired differences, seed by seed (the seeds share data, so the pairs cancel most of the
# spread): the EMA against the weights, flip TTA against none, and every row of a smaller
# training size against the same row of the first size.
echo "| training | evaluated | val accuracy (mean +- std) | paired difference | seconds (mean) |"
echo "| --- | --- | --- | --- | --- |"
awk '
  function stats(list, count,   i, m, v) {  # sets mean_, std_ of list[1..count]
    m = 0; for (i = 1; i <= count; i++) m += list[i]; m /= count
    v = 0; for (i = 1; i <= count; i++) v += (list[i] - m) ^ 2
    mean_ = m; std_ = count > 1 ? sqrt(v / (count - 1)) : 0
  }
  { key = $1; value[key, $2] = $3; secs[key] += $4; n[key]++
    if (!(key in seen)) { seen[key] = 1; order[++count] = key }
    if (!($2 in seed_seen)) { seed_seen[$2] = 1; seeds[++nseeds] = $2 }
    if (first == "") first = substr(key, 1, index(key, "/") - 1) }
  END {
    for (i = 1; i <= count; i++) {
      key = order[i]; split(key, part, "/")
      for (k = 1; k <= nseeds; k++) acc[k] = value[key, seeds[k]]
      stats(acc, nseeds); mean = mean_; std = std_
      base = ""; label = ""
      if (part[2] == "EMA") { base = part[1] "/raw"; label = "vs weights" }
      else if (part[2] == "best.pt_tta_flip") {
        base = part[1] "/best.pt_tta_none"; label = "vs no TTA" }
      else if (part[1] != first) { base = first "/" part[2]; label = "vs train " substr(first, 6) }
      paired = "-"
      if (base != "" && (base in seen)) {
        for (k = 1; k <= nseeds; k++) diff[k] = value[key, seeds[k]] - value[base, seeds[k]]
        stats(diff, nseeds); paired = sprintf("%+.2f +- %.2f %s", 100 * mean_, 100 * std_, label)
      }
      what = part[2]
      if (what == "raw") what = "final epoch, weights"
      else if (what == "EMA") what = "final epoch, EMA"
      else if (what == "best.pt_tta_none") what = "best.pt, no TTA"
      else if (what == "best.pt_tta_flip") what = "best.pt, flip TTA"
      timing = (part[2] ~ /^best/ ? "eval " : "train ") sprintf("%.0f", secs[key] / n[key])
      printf "| train %s, eval 64 | %s | %.2f%% +- %.2f (n=%d) | %s | %s |\n", substr(part[1], 6),
             what, 100 * mean, 100 * std, nseeds, paired, timing
    }
  }' "$results"
echo
echo "Raw results (variant seed accuracy seconds): $results"
