#!/usr/bin/env bash
# nxt_predict and nxt_eval on bad input: each case fails quickly with a message that names the
# culprit; a broken file among good ones gets its own error line and the others are classified.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
make_tiny_dataset "$work" 20
config=$(tiny_config "$work" bad)
run_bounded 300 "$work/train.out" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" \
  --set train.epochs=1 >/dev/null
[[ $code -eq 0 ]] || { cat "$work/train.out"; fail "training exited $code"; }
best="$work/runs/bad/best.pt"
good=$(find "$work/images" -name '*.png' -o -name '*.jpg' | sort | head -3)

# expect_error SECONDS TEXT COMMAND...: exits non-zero within SECONDS, saying TEXT.
expect_error() {
  local limit=$1 text=$2
  shift 2
  run_bounded 60 "$work/out" "$@" >/dev/null
  expect_clean_failure "$limit"
  grep -qF -- "$text" "$work/out" || { cat "$work/out"; fail "no '$text' in the output of: $*"; }
  echo "ok: $* -> $(grep -m1 -F -- "$text" "$work/out")"
}

expect_error 20 "'$work/none.pt' does not exist" "$bin/nxt_predict" --checkpoint "$work/none.pt" $good
# A state dict saved by Python (a model's weights alone, no training record).
py "import torch; torch.save({'conv1.weight': torch.zeros(2, 3), 'fc.bias': torch.ones(3)}, '$work/plain.pt')"
expect_error 20 "'$work/plain.pt' is not an nxt checkpoint" "$bin/nxt_predict" --checkpoint "$work/plain.pt" $good
head -c 5000 /dev/urandom >"$work/noise.pt"
expect_error 20 "cannot read checkpoint '$work/noise.pt': it is not an nxt checkpoint, or it is truncated" "$bin/nxt_predict" --checkpoint "$work/noise.pt" $good
mkdir -p "$work/empty/sub" && echo "notes" >"$work/empty/sub/readme.txt"
expect_error 20 "'$work/empty': no image files" "$bin/nxt_predict" --checkpoint "$best" "$work/empty"
expect_error 20 "'$work/missing': no such file or folder" "$bin/nxt_predict" --checkpoint "$best" "$work/missing"

# A non-image and a truncated image among good files: error lines for those two, exit code 2.
echo "not an image" >"$work/notes.jpg"
first=$(echo "$good" | head -1)
head -c 200 "$first" >"$work/truncated.${first##*.}"
"$bin/nxt_predict" --checkpoint "$best" --format csv $good "$work/notes.jpg" "$work/truncated.${first##*.}" \
  >"$work/mixed.csv" 2>"$work/mixed.err"
mixed_code=$?
cat "$work/mixed.csv" "$work/mixed.err"
[[ $mixed_code -eq 2 ]] || fail "a run with broken files exited $mixed_code, expected 2"
[[ $(grep -c ',$' "$work/mixed.csv") -eq 3 ]] || fail "the 3 good files should be classified"
grep -q "^$work/notes.jpg,.*,[^,]\+$" "$work/mixed.csv" || fail "no error record for notes.jpg"
grep -q "'$work/notes.jpg'" "$work/mixed.err" || fail "no error line for notes.jpg on stderr"
grep -q "3 of 5 file(s) classified, 2 failed" "$work/mixed.err" || fail "no summary line"

# nxt_eval: a dataset with other classes, a missing split, a missing checkpoint under mpirun.
"$bin/nxt_make_demo_images" --output "$work/other" --classes 4 --per-class 8 --size 32 --seed 1 \
  --easy >/dev/null
"$bin/nxt_pack_hdf5" --input "$work/other" --output "$work/other.h5" --size 32 --val-fraction 0.25 \
  --quiet >/dev/null 2>&1 || fail "pack other"
expect_error 20 "does not have the classes checkpoint '$best' was trained on (3 vs 4 classes" \
  "$bin/nxt_eval" --checkpoint "$best" --data "$work/other.h5"
expect_error 20 "has no split 'test'" "$bin/nxt_eval" --checkpoint "$best" --data "$work/data.h5" --split test
expect_error 30 "'$work/none.pt' does not exist" \
  "$nxt_mpirun" -np 2 "$bin/nxt_eval" --checkpoint "$work/none.pt" --data "$work/data.h5"
echo "PASS: bad inputs fail clearly; broken files get error lines and the rest are classified"
