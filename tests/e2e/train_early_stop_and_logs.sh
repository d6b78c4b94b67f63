#!/usr/bin/env bash
# The practitioner's run outputs, under mpirun -np 2:
#  - early stopping: with BatchNorm frozen and a vanishing lr the model cannot improve, so with
#    train.early_stop_patience 2 the run stops after epoch 3 of 10, says why in the log,
#    summary.json and train_log.jsonl, and every rank exits 0;
#  - a held-out test split (pack_hdf5 --test-fraction): best.pt is evaluated on it at the end
#    (with the 0.875 centre crop, which nxt_eval must take from the checkpoint),
#    and test_metrics.json agrees with nxt_eval --split test on the same file;
#  - train_log.jsonl: a line every train.log_every_steps steps, valid JSON with the documented
#    fields; after rank 0 dies with lines in the log past its last checkpoint and the run goes
#    on with --resume auto, the log holds exactly the steps of an uninterrupted run;
#  - TensorBoard's reader (EventAccumulator) reads the same run's event files back: every step
#    record's scalars at train_log.jsonl's steps, the epoch scalars equal to metrics.csv, each
#    step once after the crash and resume.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
"$bin/nxt_make_demo_images" --output "$work/images" --classes 3 --per-class 40 --size 32 \
  --seed 3 --easy >/dev/null
"$bin/nxt_pack_hdf5" --input "$work/images" --output "$work/data.h5" --size 32 \
  --val-fraction 0.25 --test-fraction 0.2 --seed 3 --quiet >/dev/null 2>&1 || fail "pack failed"

config=$(tiny_config "$work" stop)
run_bounded 300 "$work/out1" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" \
  --set run.threads_per_rank=1 --set train.epochs=10 --set train.early_stop_patience=2 \
  --set train.freeze_bn=true --set optim.lr=1e-12 --set train.log_every_steps=3 \
  --set data.eval_crop_ratio=0.875
[[ $code -eq 0 ]] || fail "the early-stopped run exited $code"
run="$work/runs/stop"
grep -q "early stop after epoch 3 of 10: val_acc has not improved for 2 epoch(s)" "$work/out1" ||
  fail "no early-stop line"
[[ $(($(wc -l <"$run/metrics.csv") - 1)) -eq 3 ]] || fail "metrics.csv should hold 3 epochs"
py "
import json
summary = json.load(open('$run/summary.json'))
assert summary['status'] == 'early_stopped', summary
assert 'has not improved for 2 epoch(s)' in summary['reason'], summary
assert summary['epochs_trained'] == 3 and summary['best_epoch'] == 1, summary
lines = [json.loads(l) for l in open('$run/train_log.jsonl')]
events = [l for l in lines if l.get('event') == 'early_stop']
assert len(events) == 1 and 'patience' in events[0]['reason'], events
print('summary and event:', summary['reason'])
" || fail "summary.json or the early-stop event is wrong"

# Resuming an early-stopped run stops again at once: no epoch trained, one event in the log.
run_bounded 300 "$work/out1b" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" \
  --set run.threads_per_rank=1 --set train.epochs=10 --set train.early_stop_patience=2 \
  --set train.freeze_bn=true --set optim.lr=1e-12 --set train.log_every_steps=3 \
  --set data.eval_crop_ratio=0.875 --resume auto
[[ $code -eq 0 ]] || fail "resuming the early-stopped run exited $code"
grep -q "early stop after epoch 3 of 10" "$work/out1b" || fail "the resumed run did not stop at once"
[[ $(grep -c '"event":"early_stop"' "$run/train_log.jsonl") -eq 1 ]] ||
  fail "train_log.jsonl should hold one early-stop event after the resume"

# The test split: best.pt's figures, the same as nxt_eval computes on that split.
grep -q "test split ([0-9]* images) on best.pt of epoch 1: test acc" "$work/out1" ||
  fail "no test-split line"
"$bin/nxt_eval" --checkpoint "$run/best.pt" --data "$work/data.h5" --split test \
  --out "$work/eval" >"$work/eval.out" 2>&1 || { cat "$work/eval.out"; fail "nxt_eval --split test failed"; }
py "
import json
trained = json.load(open('$run/test_metrics.json'))
evaluated = json.load(open('$work/eval/metrics.json'))
print('test_metrics.json:', trained['test_accuracy'], trained['test_images'], '; nxt_eval:', evaluated['accuracy'], evaluated['images'])
assert trained['split'] == 'test' and trained['test_images'] == evaluated['images'] > 0
assert abs(trained['test_accuracy'] - evaluated['accuracy']) < 1e-9
assert abs(trained['test_loss'] - evaluated['mean_loss']) < 1e-6
assert sorted(trained['per_class']) == ['circle', 'square', 'triangle'], sorted(trained['per_class'])
" || fail "test_metrics.json disagrees with nxt_eval --split test"

# train_log.jsonl across a crash and a resume: batch 2 x 2 ranks gives 17 steps per epoch; a
# line every 2 steps, last.pt every 5; rank 0 dies (NXT_CRASH_AT_STEP) after step 9, so lines
# 6 and 8 are past last.pt (step 5) and the resumed run, which logs them again, must drop them;
# its first step reports the recovery (reached step 9, resumed at 5: 4 steps lost).
config=$(tiny_config "$work" logged)
log="$work/runs/logged/train_log.jsonl"
logged=("$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" --set run.threads_per_rank=1
        --set train.epochs=2 --set data.batch_size=2 --set train.log_every_steps=2
        --set train.checkpoint_every_steps=5)
NXT_CRASH_AT_STEP=9 run_bounded 300 "$work/out2" "${logged[@]}" >/dev/null
[[ $code -ne 0 ]] || fail "the crash hook did not end the run"
crashed_steps=$(grep -o '"step":[0-9]*' "$log" | cut -d: -f2 | tr '\n' ' ')
[[ $crashed_steps == "2 4 6 8 " ]] || fail "train_log.jsonl before the resume: steps $crashed_steps, not 2 4 6 8"
run_bounded 300 "$work/out3" "${logged[@]}" --resume auto
[[ $code -eq 0 ]] || fail "the resumed run exited $code"
grep -q "resumed from .*last.pt: epoch 1, step 5/" "$work/out3" || fail "did not resume from step 5"
steps_per_epoch=$(sed -nE 's/.* ([0-9]+) steps per epoch$/\1/p' "$work/out3")
py "
import json
records = [json.loads(l) for l in open('$log')]
lines = [l for l in records if 'event' not in l]
# The resumed start reports the crash (Note [In-memory snapshots]): it had reached step 9.
events = [l for l in records if l.get('event') == 'recovery']
assert len(events) == 1 and events[0]['step'] == 6 and events[0]['reached_step'] == 9 and \\
    events[0]['resumed_from_step'] == 5 and events[0]['steps_lost'] == 4, events
steps = [l['step'] for l in lines]
fields = {'step', 'epoch', 'epoch_fraction', 'loss', 'lr', 'images_per_s', 'data_wait_share', 'peak_memory_bytes'}
assert all(fields <= set(l) for l in lines), lines[0]
uninterrupted = list(range(2, 2 * $steps_per_epoch + 1, 2))  # 2 epochs
assert steps == uninterrupted, 'steps %s; an uninterrupted run logs %s' % (steps, uninterrupted)
assert all(0 <= l['data_wait_share'] <= 1 and l['loss'] > 0 and l['peak_memory_bytes'] > 0 for l in lines)
print('train_log.jsonl steps:', steps)
" || fail "train_log.jsonl is wrong after the crash and resume"

# TensorBoard's own reader on the same run's tb/ (run.tensorboard is on by default): the step
# records' scalars once each at exactly train_log.jsonl's steps, with its loss; the epoch scalars
# at each epoch's last step, equal to metrics.csv; the crash's events past last.pt are gone.
"$python" "$repo_root/tests/unit/read_tensorboard.py" "$work/runs/logged/tb" >"$work/tb.json" ||
  fail "TensorBoard's reader could not read runs/logged/tb"
py "
import csv, json
tb = json.load(open('$work/tb.json'))
lines = [json.loads(l) for l in open('$log') if '\"event\"' not in l]
assert [s for s, _ in tb['recovery/steps_lost']] == [6] and tb['recovery/steps_lost'][0][1] == 4, tb['recovery/steps_lost']
for tag in ['train/step_loss', 'train/lr', 'train/images_per_s', 'train/data_wait_share',
            'ranks/step_time_spread', 'ranks/slowest_ratio']:
    assert [s for s, _ in tb[tag]] == [l['step'] for l in lines], (tag, tb[tag])
for (step, value), line in zip(tb['train/step_loss'], lines):
    assert abs(value - line['loss']) <= 1e-6 * max(1.0, abs(line['loss'])), (step, value, line)
rows = list(csv.DictReader(open('$work/runs/logged/metrics.csv')))
epoch_ends = [$steps_per_epoch * (k + 1) for k in range(len(rows))]
for tag, column in [('val/accuracy', 'val_acc'), ('val/loss', 'val_loss'),
                    ('train/accuracy', 'train_acc'), ('train/loss', 'train_loss'), ('epoch/lr', 'lr')]:
    assert [s for s, _ in tb[tag]] == epoch_ends, (tag, tb[tag], epoch_ends)
    for (step, value), row in zip(tb[tag], rows):
        assert abs(value - float(row[column])) <= 1e-6 * max(1.0, abs(float(row[column]))), (tag, step, value, row)
print('TensorBoard read back:', len(tb), 'tags;', 'val/accuracy', tb['val/accuracy'], '; train/step_loss', tb['train/step_loss'][:3], '...')
" || fail "TensorBoard's reader does not read back the run's scalars"
echo "PASS: early stop, test split, per-step log across a crash"
