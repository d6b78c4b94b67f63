#!/usr/bin/env bash
# nxt_eval and nxt_predict on a tiny trained run (48px JPEG sources packed at 32px, so both go
# through the resize path):
#  - nxt_eval under mpirun -np 2 reports the accuracy the trainer logged for the best epoch, and
#    the same numbers as one process; its files are consistent (JSON, CSV, PNG);
#  - nxt_predict on the val images' source files, and on the packed val images written back out
#    as PNG files, agrees with nxt_eval's per-image predictions on >= 99% of them;
#  - --tta flip runs and is reported; with 6 classes the trainer's top-5 (under eval.tta flip)
#    is the one nxt_eval reports for its best.pt.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
"$bin/nxt_make_demo_images" --output "$work/images" --classes 3 --per-class 60 --size 48 \
  --seed 4 --easy --format jpg >/dev/null || fail "make_demo_images"
"$bin/nxt_pack_hdf5" --input "$work/images" --output "$work/data.h5" --size 32 \
  --val-fraction 0.25 --seed 3 --quiet >/dev/null 2>&1 || fail "pack_hdf5"
config=$(tiny_config "$work" pe)
learn=(--set optim.name=adam --set optim.lr=0.003 --set data.crop=none --set train.epochs=4)
run_bounded 300 "$work/train.out" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" "${learn[@]}" >/dev/null
[[ $code -eq 0 ]] || { cat "$work/train.out"; fail "training exited $code"; }
best="$work/runs/pe/best.pt"
logged=$(awk -F, 'NR > 1 && $4 > b { b = $4 } END { printf "%.6f", b }' "$work/runs/pe/metrics.csv")

# nxt_eval, 2 ranks (sharded) and 1 process: the logged accuracy, identical reports.
"$nxt_mpirun" -np 2 "$bin/nxt_eval" --checkpoint "$best" --data "$work/data.h5" --out "$work/eval" \
  >"$work/eval2.out" 2>"$work/eval2.err" || { cat "$work/eval2.err"; fail "nxt_eval -np 2 failed"; }
"$bin/nxt_eval" --checkpoint "$best" --data "$work/data.h5" >"$work/eval1.out" 2>"$work/eval1.err" ||
  { cat "$work/eval1.err"; fail "nxt_eval (1 process) failed"; }
cat "$work/eval2.out"
grep -q "^accuracy   $logged " "$work/eval2.out" || fail "nxt_eval accuracy is not the logged best $logged"
diff <(head -n -1 "$work/eval2.out") "$work/eval1.out" || fail "2 ranks and 1 process report differently"
py "
import csv, json
from PIL import Image
m = json.load(open('$work/eval/metrics.json'))
cm = m['confusion_matrix']
assert sum(map(sum, cm)) == m['images'] == 45, m['images']
assert sum(cm[i][i] for i in range(3)) == m['correct'] and abs(m['accuracy'] - $logged) < 1e-6
for i, row in enumerate(m['per_class']):
    col = sum(cm[r][i] for r in range(3))
    assert row['support'] == sum(cm[i]) and abs(row['recall'] - cm[i][i] / sum(cm[i])) < 1e-6
    assert abs(row['precision'] - (cm[i][i] / col if col else 0)) < 1e-6
rows = list(csv.DictReader(open('$work/eval/predictions.csv')))
assert len(rows) == 45 and sum(int(r['correct']) for r in rows) == m['correct']
png = Image.open('$work/eval/confusion.png')
assert png.format == 'PNG' and png.size[0] > 200 and png.size[1] > 200, png.size
print('eval files consistent:', m['correct'], '/', m['images'])
" || fail "nxt_eval files are inconsistent"

# agreement PREDICT_CSV: share of val images on which nxt_predict (top-1, by file name) agrees
# with nxt_eval's predictions.csv; file names are matched by the source path's tail.
agreement() {
  py "
import csv, os
ev = {r['path']: r['predicted_class'] for r in csv.DictReader(open('$work/eval/predictions.csv'))}
pr = {}
for r in csv.DictReader(open('$1')):
    assert not r['error'], r
    pr[os.path.relpath(r['path'], '$2')] = r['class_1']
assert len(pr) == len(ev), (len(pr), len(ev))
same = sum(pr[p] == c for p, c in ev.items())
print(f'{same}/{len(ev)}')
assert same >= 0.99 * len(ev), f'only {same} of {len(ev)} agree'
"
}
# 1. The val images' source files (JPEG, 48px: decoded and resized as pack_hdf5 did).
mkdir -p "$work/val_src"
tail -n +2 "$work/eval/predictions.csv" | cut -d, -f2 | while read -r rel; do
  mkdir -p "$work/val_src/$(dirname "$rel")" && cp "$work/images/$rel" "$work/val_src/$rel"
done
"$bin/nxt_predict" --checkpoint "$best" --format csv --topk 2 "$work/val_src" >"$work/pred_src.csv" \
  2>"$work/pred_src.err" || { cat "$work/pred_src.err"; fail "nxt_predict on source files failed"; }
same=$(agreement "$work/pred_src.csv" "$work/val_src") || fail "source files disagree: $same"
echo "source files: $same agree"
# 2. The packed val images written back out as PNG files, under their source names.
py "
import h5py, os
from PIL import Image
with h5py.File('$work/data.h5') as f:
    for image, path in zip(f['val/images'][:], f['val/paths'][:]):
        out = os.path.join('$work/val_png', os.path.splitext(path.decode())[0] + '.jpg.png')
        os.makedirs(os.path.dirname(out), exist_ok=True)
        Image.fromarray(image).save(out)
" || fail "cannot write the val images out"
"$bin/nxt_predict" --checkpoint "$best" --format csv --topk 1 "$work/val_png" >"$work/pred_png.csv" \
  2>/dev/null || fail "nxt_predict on PNG files failed"
sed -i 's/\.jpg\.png,/.jpg,/' "$work/pred_png.csv"
same=$(agreement "$work/pred_png.csv" "$work/val_png") || fail "PNG files disagree: $same"
echo "written-back PNGs: $same agree"

# Text and JSON-lines forms: top-k names with probabilities summing to at most 1.
"$bin/nxt_predict" --checkpoint "$best" --topk 3 --format jsonl "$work/val_png" 2>/dev/null |
  py "
import json, sys
lines = [json.loads(l) for l in sys.stdin]
assert len(lines) == 45
for l in lines:
    ps = [t['probability'] for t in l['top']]
    assert len(ps) == 3 and ps == sorted(ps, reverse=True) and 0.999 < sum(ps) < 1.001, l
" || fail "jsonl output"
first=$(find "$work/val_png" -name '*.png' | sort | head -1)
"$bin/nxt_predict" --checkpoint "$best" "$first" 2>/dev/null | grep -Eq "^$first: (circle|square|triangle) 0\.[0-9]{4}, " ||
  fail "text output: $("$bin/nxt_predict" --checkpoint "$best" "$first" 2>&1)"

# --tta flip (Note [flip TTA]): nxt_eval and nxt_predict run with it; the report says so. With 3
# classes top-5 is trivially 1 and left out (Note [top-5 with few classes]).
"$bin/nxt_eval" --checkpoint "$best" --data "$work/data.h5" --tta flip --out "$work/eval_flip" \
  >"$work/flip.out" 2>"$work/flip.err" || { cat "$work/flip.err"; fail "nxt_eval --tta flip failed"; }
grep -Eq "^accuracy   [01]\.[0-9]{6} \([0-9]+/45\)" "$work/flip.out" && grep -q "^tta        flip$" "$work/flip.out" &&
  ! grep -q "^top-5" "$work/flip.out" || { cat "$work/flip.out"; fail "nxt_eval --tta flip report"; }
py "
import json
m = json.load(open('$work/eval_flip/metrics.json'))
assert m['tta'] == 'flip' and m['top5_accuracy'] is None and m['images'] == 45, m
assert json.load(open('$work/eval/metrics.json'))['tta'] == 'none'
" || fail "nxt_eval --tta flip metrics.json"
"$bin/nxt_predict" --checkpoint "$best" --tta flip --topk 1 --format csv "$work/val_png" 2>/dev/null |
  tail -n +2 | wc -l | grep -qx 45 || fail "nxt_predict --tta flip"

# Top-5 with 6 classes, and eval.tta flip in the trainer: one epoch in one process; the epoch
# line, metrics.csv, and nxt_eval (taking eval.tta from the checkpoint; 2 ranks and 1 process
# alike) agree on it.
"$bin/nxt_make_demo_images" --output "$work/six/images" --classes 6 --per-class 12 --size 32 \
  --seed 2 --easy >/dev/null || fail "make_demo_images (6 classes)"
"$bin/nxt_pack_hdf5" --input "$work/six/images" --output "$work/six/data.h5" --size 32 \
  --val-fraction 0.25 --seed 3 --quiet >/dev/null 2>&1 || fail "pack_hdf5 (6 classes)"
six_config=$(tiny_config "$work/six" six)
run_bounded 120 "$work/six.out" "$bin/nxt_ddp" --config "$six_config" --set train.epochs=1 \
  --set eval.tta=flip >/dev/null
[[ $code -eq 0 ]] || { cat "$work/six.out"; fail "6-class training exited $code"; }
grep -q "Test_loss: .*, Test_top5: [0-9.]*%, Lr: " "$work/six.out" || fail "no Test_top5 in the epoch line"
"$nxt_mpirun" -np 2 "$bin/nxt_eval" --checkpoint "$work/six/runs/six/best.pt" --data "$work/six/data.h5" \
  --out "$work/six/eval" >"$work/six_eval.out" 2>"$work/six_eval.err" ||
  { cat "$work/six_eval.err"; fail "nxt_eval -np 2 (6 classes)"; }
grep -Eq "^top-5      [01]\.[0-9]{6} \([0-9]+/18\)" "$work/six_eval.out" || fail "no top-5 line: $(cat "$work/six_eval.out")"
"$bin/nxt_eval" --checkpoint "$work/six/runs/six/best.pt" --data "$work/six/data.h5" >"$work/six_eval1.out" ||
  fail "nxt_eval (6 classes, 1 process)"
diff <(head -n -1 "$work/six_eval.out") "$work/six_eval1.out" || fail "2 ranks and 1 process report top-5 differently"
py "
import csv, json
row = list(csv.DictReader(open('$work/six/runs/six/metrics.csv')))[-1]
m = json.load(open('$work/six/eval/metrics.json'))
assert m['tta'] == 'flip', m['tta']  # the run's eval.tta, from the checkpoint's config
assert float(row['val_acc']) <= float(row['val_top5']) <= 1, row
assert abs(m['top5_accuracy'] - float(row['val_top5'])) < 1e-6, (m['top5_accuracy'], row)
assert abs(m['accuracy'] - float(row['val_acc'])) < 1e-6, (m['accuracy'], row)
print('6 classes: val top-1', row['val_acc'], 'top-5', row['val_top5'], '(tta flip)')
" || fail "top-5 of the trainer and nxt_eval disagree"
echo "PASS: nxt_eval matches the logged best accuracy $logged; nxt_predict agrees with it"
