#!/usr/bin/env bash
# Format version 1 stays what it was (issue 24: "version 1 files still train, evaluate and
# predict unchanged"): pack_hdf5 --size still writes version 1, in its layout (/<split>/images
# uint8 [N, H, W, 3], chunked one image per chunk, no version 2 stream or index), and a run on it
# keeps the fixed-square pipeline end to end:
#  - best.pt's preprocess has max_side 0 and eval_resize 0 (checkpoints before version 2 read
#    the same: tests/unit/test_checkpoint.cpp) besides the version 1 keys;
#  - nxt_eval gives the trainer's best accuracy and loss; nxt_predict on the val images' source
#    files (48 px JPEGs, resized to the 32 px squares as the packer did, centre-cropped to 0.875)
#    agrees with it on every image, and its probabilities give nxt_eval's mean loss;
#  - export_model.py's preprocess.json says "layout": "fixed_squares" with the keys it always had.
# The other end-to-end scripts (train_resume, predict_and_eval, export_model, train_resolution,
# ...) all run on --size files as well, so they cover version 1 too.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
"$bin/nxt_make_demo_images" --output "$work/images" --classes 3 --per-class 60 --size 48 \
  --seed 4 --easy --format jpg >/dev/null || fail "make_demo_images"
"$bin/nxt_pack_hdf5" --input "$work/images" --output "$work/data.h5" --size 32 \
  --val-fraction 0.25 --seed 3 --quiet >/dev/null 2>&1 || fail "pack_hdf5 --size 32"
py "
import h5py
with h5py.File('$work/data.h5') as f:
    assert list(f.attrs['format_version']) == [1], f.attrs['format_version']
    assert 'max_side' not in f.attrs and 'storage' not in f.attrs, list(f.attrs)
    for split in ('train', 'val'):
        g = f[split]
        assert set(g) == {'images', 'labels', 'paths'}, (split, set(g))
        images = g['images']
        assert images.dtype == 'uint8' and images.shape[1:] == (32, 32, 3), images
        assert images.chunks == (1, 32, 32, 3), images.chunks
    print('version 1 layout: train', f['train/images'].shape, 'val', f['val/images'].shape)
" || fail "pack_hdf5 --size no longer writes the version 1 layout"
config=$(tiny_config "$work" v1)
run_bounded 300 "$work/train.out" "$bin/nxt_ddp" --config "$config" --set data.crop=none \
  --set data.eval_crop_ratio=0.875 --set optim.name=adam --set optim.lr=0.003 \
  --set train.epochs=4 >/dev/null
[[ $code -eq 0 ]] || { cat "$work/train.out"; fail "training exited $code"; }
best="$work/runs/v1/best.pt"
grep -q "evaluation at 32 px (centre crop 0.875 of each side)" "$work/train.out" ||
  fail "the log does not state the version 1 evaluation crop"
"$bin/nxt_eval" --checkpoint "$best" --data "$work/data.h5" --out "$work/eval" >"$work/eval.out" \
  2>&1 || { cat "$work/eval.out"; fail "nxt_eval failed"; }
"$bin/nxt_predict" --checkpoint "$best" --format jsonl --topk 3 "$work/images" >"$work/pred.jsonl" \
  2>"$work/pred.err" || { cat "$work/pred.err"; fail "nxt_predict failed"; }
"$python" "$repo_root/data_tools/export_model.py" "$best" --format torchscript "$work/model.ts" \
  >"$work/export.out" 2>&1 || { cat "$work/export.out"; fail "export_model.py failed"; }
py "
import csv, json, math, os, torch
best = torch.load('$best')
p = best['preprocess']
assert (p['max_side'], p['eval_resize']) == (0, 0), p
assert (p['stored_size'], p['resize_mode'], p['input_size']) == ([32, 32], 'stretch', 32), p
assert abs(p['eval_crop_ratio'] - 0.875) < 1e-12, p
m = json.load(open('$work/eval/metrics.json'))
assert abs(m['accuracy'] - best['best_val_acc']) < 1e-12, (m['accuracy'], best['best_val_acc'])
assert abs(m['mean_loss'] - best['best_val_loss']) < 2e-6, (m['mean_loss'], best['best_val_loss'])
# nxt_predict on the val images' source files: nxt_eval's prediction for each, and its
# probabilities give nxt_eval's mean loss (the same pixels: pack_hdf5's decode and resize).
rows = list(csv.DictReader(open('$work/eval/predictions.csv')))
predicted = {os.path.relpath(r['path'], '$work/images'): {t['class']: t['probability'] for t in r['top']}
             for r in map(json.loads, open('$work/pred.jsonl'))}
same = sum(max(predicted[r['path']].items(), key=lambda t: t[1])[0] == r['predicted_class'] for r in rows)
assert same == len(rows) == m['images'], f'{same} of {len(rows)} agree'
assert len({r['predicted_class'] for r in rows}) > 1, 'one class predicted for all: proves little'
loss = sum(-math.log(predicted[r['path']][r['true_class']]) for r in rows) / len(rows)
assert abs(loss - m['mean_loss']) < 2e-6, (loss, m['mean_loss'])
record = json.load(open('$work/model.ts.preprocess.json'))
assert record['layout'] == 'fixed_squares', record
assert not {'max_side', 'resize', 'crop'} & set(record), record
for key in ('stored_size', 'resize_mode', 'input_size', 'eval_crop_ratio', 'mean', 'std',
            'train_size'):
    assert record[key] == p[key], (key, record[key], p[key])
print('version 1: preprocess', p)
print('nxt_eval acc %.6f loss %.6f = the trainer\'s; nxt_predict agrees on %d of %d source files, '
      'mean -log p %.6f' % (m['accuracy'], m['mean_loss'], same, len(rows), loss))
" || fail "the version 1 pipeline changed"
echo "PASS: version 1 packs, trains, evaluates, predicts and exports as before"
