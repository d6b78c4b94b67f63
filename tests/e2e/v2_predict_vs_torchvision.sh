#!/usr/bin/env bash
# nxt_eval and nxt_predict on format version 2 data give torchvision's predictions (issue 24): a
# tiny model trained on JPEG photos of their own aspect ratios (make_demo_images --photos) packed
# with pack_hdf5 --max-side 64 --store jpeg, evaluated at 32 px after resizing the shorter side
# to 37 (data.eval_crop_ratio 0.875), is applied to a held-out folder of photos three ways:
#  - torchvision, as a deployer would from export_model.py's preprocess.json: PIL opens the
#    ORIGINAL file, Resize(resize) + CenterCrop(crop) + ToTensor, into the exported TorchScript
#    model;
#  - nxt_predict on the same files (nxt_jit_logits runs its code and prints its logits);
#  - nxt_eval on the held-out folder packed into the same file (--test-dir, --split test).
# Checked, with the tolerances below:
#  - the 32 x 32 inputs of torchvision and nxt_predict differ by at most kMeanPixelTolerance grey
#    levels on average (measured 4.4; a resize to 36 instead of 37 gives 8.4, a crop one pixel
#    off 20, a plain Resize(32) 17, a stretch 22: the check tells the pipeline apart from its
#    near misses whatever the model learnt);
#  - their logits are within kLogitTolerance (max abs) and kMeanLogitTolerance (mean abs) of
#    each other (measured 0.27-0.35 and 0.04-0.05 with a mean logit spread of 1.8-2.0), and
#    top-1 is the same on all but kMaxTop1Flips of the 60 photos, not counting near ties
#    (images whose top two logits are closer than twice their own logit difference: 0 to 2,
#    and 6 after a change of the optimizer's float rounding trained another model);
#  - nxt_eval's accuracy is torchvision's to kMaxAccuracyImages images (measured equal to
#    2 images apart across trainings: the same near ties, plus the JPEG error below).
#
# Why not exact: nxt fits each photo's longer side to 64 px first (OpenCV's area average), as
# the packer stored it, then area-resizes the centre crop's window of that to the shorter side
# 37 (the window's edges rounded to whole stored pixels: up to a third of an output pixel, see
# src/data/stored_sample.cpp), where torchvision resizes the original (about 390 x 365) in one
# step with PIL's antialiased bilinear filter; the fit's rounding of the stored shape can also
# make the resized image one pixel wider than torchvision's (500 x 300 -> 64 x 38 -> 62 x 37,
# torchvision 61 x 37). nxt_eval also sees the packer's JPEG q90 re-encoding of the 64 px image,
# which nxt_predict does not repeat (Note [Prediction on version 2 data] in
# src/infer/predictor.h). The photos' fine stripes alias differently under each filter, hence
# single pixels up to about 150 grey levels apart.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
kMeanPixelTolerance=6
kLogitTolerance=0.75
kMeanLogitTolerance=0.1
kMaxTop1Flips=3
kMaxAccuracyImages=2

py "import torchvision, yaml" || fail "needs torchvision and pyyaml in $python (launch/python_env.sh)"
[[ -x "$bin/nxt_jit_logits" ]] || fail "$bin/nxt_jit_logits is not built (ninja -C build nxt_jit_logits)"
"$bin/nxt_make_demo_images" --output "$work/photos" --photos --classes 3 --per-class 60 \
  --seed 11 >/dev/null || fail "make_demo_images --photos (training)"
"$bin/nxt_make_demo_images" --output "$work/heldout" --photos --classes 3 --per-class 20 \
  --seed 12 >/dev/null || fail "make_demo_images --photos (held out)"
"$bin/nxt_pack_hdf5" --input "$work/photos" --test-dir "$work/heldout" --output "$work/data.h5" \
  --max-side 64 --store jpeg --val-fraction 0.2 --seed 3 --quiet >/dev/null 2>&1 ||
  fail "pack_hdf5 --max-side 64 --store jpeg --test-dir"
config=$(tiny_config "$work" photos)
run_bounded 300 "$work/train.out" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" \
  --set data.image_size=32 --set data.crop=none --set data.eval_crop_ratio=0.875 \
  --set optim.name=adam --set optim.lr=0.003 --set train.epochs=6 --set run.threads_per_rank=1 \
  >/dev/null
[[ $code -eq 0 ]] || { cat "$work/train.out"; fail "training exited $code"; }
best="$work/runs/photos/best.pt"

"$python" "$repo_root/data_tools/export_model.py" "$best" --format torchscript "$work/model.ts" \
  >"$work/export.out" 2>&1 || { cat "$work/export.out"; fail "export_model.py failed"; }
mapfile -t files < <(find "$work/heldout" -name '*.jpg' | sort)
[[ ${#files[@]} -eq 60 ]] || fail "expected 60 held-out photos, found ${#files[@]}"
"$bin/nxt_jit_logits" --checkpoint "$best" --module "$work/model.ts" \
  --inputs-out "$work/inputs.pt" "${files[@]}" >"$work/nxt_logits.jsonl" 2>"$work/jit.err" ||
  { cat "$work/jit.err"; fail "nxt_jit_logits (nxt_predict's path) failed"; }
"$bin/nxt_predict" --checkpoint "$best" --format csv --topk 1 "$work/heldout" \
  >"$work/predict.csv" 2>"$work/predict.err" || { cat "$work/predict.err"; fail "nxt_predict failed"; }
"$bin/nxt_eval" --checkpoint "$best" --data "$work/data.h5" --split test --out "$work/eval" \
  >"$work/eval.out" 2>&1 || { cat "$work/eval.out"; fail "nxt_eval --split test failed"; }

py "
import csv, json, os
import torch
from PIL import Image
from torchvision import transforms

record = json.load(open('$work/model.ts.preprocess.json'))
assert (record['layout'], record['max_side'], record['resize'], record['crop']) == \
    ('aspect_kept', 64, 37, 32), record
classes = record['classes']
model = torch.jit.load('$work/model.ts').eval()
prepare = transforms.Compose([transforms.Resize(record['resize']),
                              transforms.CenterCrop(record['crop']), transforms.ToTensor()])
files = [json.loads(line) for line in open('$work/nxt_logits.jsonl')]
inputs = torch.load('$work/inputs.pt')  # the pixels nxt_predict's path fed the model
ours = torch.stack([prepare(Image.open(r['path']).convert('RGB')) for r in files])
with torch.no_grad():
    theirs_logits = model(ours)
nxt_logits = torch.tensor([r['nxt'] for r in files])
label = torch.tensor([classes.index(os.path.basename(os.path.dirname(r['path']))) for r in files])

pixels = (inputs['pixels'] - ours).abs() * 255
diff = (nxt_logits - theirs_logits).abs()
spread = (nxt_logits.max(1).values - nxt_logits.min(1).values).mean().item()
flipped = nxt_logits.argmax(1) != theirs_logits.argmax(1)
flips = flipped.sum().item()
# A flip the image's own logit difference explains: its top two logits (torchvision's) are closer
# than twice that difference. Only the others would say the pipelines disagree.
top2 = theirs_logits.topk(2, dim=1).values
near_tie = (top2[:, 0] - top2[:, 1]) <= 2 * diff.max(1).values
unexplained = (flipped & ~near_tie).sum().item()
print(f'pixels nxt_predict vs torchvision: mean |diff| {pixels.mean():.2f}, max {pixels.max():.0f} '
      f'grey levels')
print(f'logits: max |diff| {diff.max():.4f}, mean {diff.mean():.4f} (mean logit spread {spread:.3f}); '
      f'top-1 differs on {flips} of {len(files)}, {flips - unexplained} of them near ties')
assert spread > 0.5, 'the logits are nearly constant: the comparison would prove little'
assert pixels.mean() <= $kMeanPixelTolerance, \
    f'the inputs differ by {pixels.mean():.2f} grey levels on average (limit $kMeanPixelTolerance)'
assert unexplained <= $kMaxTop1Flips, \
    f'top-1 differs on {unexplained} images that are not near ties (limit $kMaxTop1Flips)'
assert diff.max() <= $kLogitTolerance, f'max logit difference {diff.max():.4f} > $kLogitTolerance'
assert diff.mean() <= $kMeanLogitTolerance, f'mean logit difference {diff.mean():.4f} > $kMeanLogitTolerance'

# nxt_predict (the binary) names the top-1 class of nxt_jit_logits' logits on every file.
predicted = {r['path']: r['class_1'] for r in csv.DictReader(open('$work/predict.csv'))}
assert len(predicted) == len(files), (len(predicted), len(files))
for r, row in zip(files, nxt_logits):
    assert predicted[r['path']] == classes[row.argmax().item()], r['path']

# nxt_eval on the packed held-out split: torchvision's accuracy.
m = json.load(open('$work/eval/metrics.json'))
tv_correct = (theirs_logits.argmax(1) == label).sum().item()
nxt_predict_correct = (nxt_logits.argmax(1) == label).sum().item()
print(f'accuracy on {len(files)} held-out photos: torchvision {tv_correct}, nxt_predict '
      f'{nxt_predict_correct}, nxt_eval {m[\"correct\"]} (of {m[\"images\"]})')
assert m['images'] == len(files), m['images']
assert abs(m['correct'] - tv_correct) <= $kMaxAccuracyImages, (m['correct'], tv_correct)
" || fail "nxt and torchvision disagree beyond the stated tolerance"
echo "PASS: nxt_predict and nxt_eval on version 2 data give torchvision's Resize + CenterCrop predictions"
