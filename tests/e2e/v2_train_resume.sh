#!/usr/bin/env bash
# Format version 2 end to end under mpirun -np 2 (issue 24): JPEG photos of their own aspect
# ratios (make_demo_images --photos) packed with pack_hdf5 --max-side 64, once --store jpeg and
# once --store mixed, trained with data.crop random_resized at 32 px and evaluated with
# Resize(37) + CenterCrop(32) (data.eval_crop_ratio 0.875 gives eval_resize round(32 / 0.875)):
#  - each file is format_version 2 with that storage, and images of several shapes;
#  - for each storage, a run stopped mid-epoch 2 (NXT_STOP_AT_STEP) and resumed with --resume
#    auto ends with the straight run's metrics.csv and bitwise equal parameters (the crops are
#    drawn on the stored shapes from each sample's own stream, the JPEG decode is exact);
#  - best.pt's preprocess records the version 2 pipeline (max_side 64, eval_resize 37, resize_mode
#    fit), the log says so, and nxt_eval on best.pt (2 ranks) gives the trainer's best val
#    accuracy and loss: its loader prepares the split as the trainer's evaluation did.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
"$bin/nxt_make_demo_images" --output "$work/photos" --photos --classes 3 --per-class 40 \
  --seed 7 >/dev/null || fail "make_demo_images --photos"
settings=(--set data.image_size=32 --set data.crop=random_resized --set data.min_crop_scale=0.35
          --set data.eval_crop_ratio=0.875 --set optim.name=adam --set optim.lr=0.003
          --set train.epochs=3 --set run.threads_per_rank=1)

# check_storage STORE: pack, train straight, train stopped + resumed, compare, evaluate.
check_storage() {
  local store=$1 dir="$work/$1"
  mkdir -p "$dir"
  "$bin/nxt_pack_hdf5" --input "$work/photos" --output "$dir/data.h5" --max-side 64 \
    --store "$store" --val-fraction 0.25 --seed 3 --quiet >/dev/null 2>&1 ||
    fail "pack_hdf5 --max-side 64 --store $store"
  py "
import h5py, numpy as np
with h5py.File('$dir/data.h5') as f:
    assert list(f.attrs['format_version']) == [2], f.attrs['format_version']
    storage = f.attrs['storage']
    storage = storage.decode() if isinstance(storage, bytes) else str(storage)
    assert storage == '$store', storage
    index = f['train/index'][:]
    shapes = {(int(h), int(w)) for h, w in index[:, 2:4]}
    encodings = set(int(e) for e in index[:, 4])
    assert max(max(s) for s in shapes) == 64 and len(shapes) >= 5, shapes
    assert encodings == ({1} if '$store' == 'jpeg' else {0, 1}), encodings
    print('$store: version 2, %d train images of %d shapes, encodings %s' %
          (len(index), len(shapes), sorted(encodings)))
" || fail "$store: not the version 2 file expected"
  local straight stopped
  straight=$(tiny_config "$dir" straight)
  stopped=$(tiny_config "$dir" stopped)
  run_bounded 300 "$dir/straight.out" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$straight" \
    "${settings[@]}" >/dev/null
  [[ $code -eq 0 ]] || { cat "$dir/straight.out"; fail "$store: the straight run exited $code"; }
  local line="evaluation at 32 px (shorter side 37, centre crop; images stored with their longer"
  grep -qF "$line side <= 64 px)" "$dir/straight.out" ||
    fail "$store: the log does not state the version 2 evaluation"
  # 12 steps per epoch (90 train images, 2 ranks x 4): step 17 is mid-epoch 2.
  stop_then_resume "$dir" "$stopped" 300 "${settings[@]}"
  diff <(cut -d, -f1-6 "$dir/runs/straight/metrics.csv") \
    <(cut -d, -f1-6 "$dir/runs/stopped/metrics.csv") ||
    fail "$store: metrics differ after the resume"
  expect_same_parameters "$dir/runs/straight/last.pt" "$dir/runs/stopped/last.pt"

  local best="$dir/runs/straight/best.pt"
  "$nxt_mpirun" -np 2 "$bin/nxt_eval" --checkpoint "$best" --data "$dir/data.h5" \
    --out "$dir/eval" >"$dir/eval.out" 2>&1 ||
    { cat "$dir/eval.out"; fail "$store: nxt_eval failed"; }
  py "
import json, torch
best = torch.load('$best')
p = best['preprocess']
assert (p['max_side'], p['eval_resize'], p['input_size'], p['resize_mode']) == (64, 37, 32, 'fit'), p
assert p['stored_size'] == [64, 64], p
m = json.load(open('$dir/eval/metrics.json'))
assert abs(m['accuracy'] - best['best_val_acc']) < 1e-12, (m['accuracy'], best['best_val_acc'])
# Losses are summed in units of 1e-6 per sample (eval/totals.h).
assert abs(m['mean_loss'] - best['best_val_loss']) < 2e-6, (m['mean_loss'], best['best_val_loss'])
print('$store: best.pt preprocess', p)
print('$store: nxt_eval acc %.6f loss %.6f = the trainer\'s best epoch' %
      (m['accuracy'], m['mean_loss']))
" || fail "$store: best.pt's preprocess or nxt_eval's numbers"
}

check_storage jpeg
check_storage mixed
echo "PASS: version 2 (jpeg and mixed) trains under 2 ranks, resumes mid-epoch exactly, and nxt_eval repeats its evaluation"
