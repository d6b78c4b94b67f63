#!/usr/bin/env bash
# Resume on another world size (a requeued job that comes back on fewer or more nodes): a
# 2-rank run stopped mid-epoch 2 (NXT_STOP_AT_STEP, as if signalled) is resumed with 1 and with
# 3 ranks. Note [World-size-independent epochs] (src/data/sampler.h): in each resumed run every
# training sample of the interrupted epoch is seen exactly once (counted from the loader's
# indices, NXT_TRACE_SAMPLES), the log states the change, and the learning rate of every epoch,
# the last included, equals the uninterrupted run's (the schedule follows epochs, not steps).
# 90 training images, batch 3 per rank: no sampler padding for 1, 2 or 3 ranks, so "exactly
# once" holds to the sample.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
make_tiny_dataset "$work" 40
straight=$(tiny_config "$work" straight)
stopped=$(tiny_config "$work" stopped)
train=(--set run.threads_per_rank=1 --set data.batch_size=3 --set train.epochs=3
       --set optim.schedule=cosine --set optim.min_lr=0.001 --set optim.warmup_epochs=0.5)

run_bounded 300 "$work/out.straight" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$straight" "${train[@]}"
[[ $code -eq 0 ]] || fail "the straight run exited $code"
grep -q "train 90, val" "$work/out.straight" || fail "expected 90 training images (see the data line)"

# 2 ranks x batch 3 = 6 samples per step, 15 steps per epoch: step 22 is in epoch 2, after
# 7 of its steps (42 samples).
mkdir -p "$work/trace.stopped"
NXT_STOP_AT_STEP=22 NXT_TRACE_SAMPLES="$work/trace.stopped" \
  run_bounded 300 "$work/out.stopped" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$stopped" "${train[@]}"
[[ $code -ne 0 ]] || fail "the stopped run finished instead of stopping"
grep -q "stopped by SIGUSR2" "$work/out.stopped" || fail "no stop message"

for ranks in 1 3; do
  name="resumed$ranks"
  cp -r "$work/runs/stopped" "$work/runs/$name"
  mkdir -p "$work/trace.$name"
  NXT_TRACE_SAMPLES="$work/trace.$name" run_bounded 300 "$work/out.$name" \
    "$nxt_mpirun" -np "$ranks" "$bin/nxt_ddp" --config "$stopped" "${train[@]}" \
    --set run.name="$name" --resume auto
  [[ $code -eq 0 ]] || fail "the run resumed on $ranks rank(s) exited $code"
  grep -qE "resumed from .*last.pt: epoch 2, step [0-9]+/[0-9]+ \(sample 42 of 90\)" "$work/out.$name" ||
    fail "$ranks rank(s): no resume line at epoch 2, sample 42"
  grep -qE "world size changed: 2 -> $ranks rank\(s\), global batch 6 -> $((3 * ranks))" \
    "$work/out.$name" || fail "$ranks rank(s): the log does not state the world-size change"
  "$python" - "$work/trace.stopped" "$work/trace.$name" <<'PY' || fail "$ranks rank(s): epoch 2 samples not seen exactly once"
import collections, glob, sys
seen = collections.Counter()
positions = collections.Counter()
for folder in sys.argv[1:]:
    for path in glob.glob(folder + '/samples.rank*.txt'):
        for line in open(path):
            epoch, position, index = map(int, line.split())
            if epoch == 1:  # the interrupted epoch (0-based)
                seen[index] += 1
                positions[position] += 1
assert sorted(seen) == list(range(90)), 'samples missing: %s' % sorted(set(range(90)) - set(seen))[:10]
twice = [i for i, c in seen.items() if c != 1]
assert not twice, 'seen more than once: %s' % twice[:10]
assert sorted(positions) == list(range(90)), 'positions are not 0..89 once each'
print('epoch 2: 90 samples, each once, positions 0..89 in order of the permutation')
PY
  cut -d, -f1,6 "$work/runs/straight/metrics.csv" >"$work/lr.straight"
  cut -d, -f1,6 "$work/runs/$name/metrics.csv" >"$work/lr.$name"
  diff "$work/lr.straight" "$work/lr.$name" || fail "$ranks rank(s): the per-epoch lr differs from the straight run"
  echo "resumed on $ranks rank(s): final lr $(tail -1 "$work/lr.$name" | cut -d, -f2) (straight: $(tail -1 "$work/lr.straight" | cut -d, -f2))"
done
echo "PASS: resuming on 1 or 3 ranks continues the epoch exactly and keeps the schedule"
