#!/usr/bin/env bash
# Repeated augmentation (data.sampler: repeated, Note [Repeated augmentation] in
# src/data/sampler.h) in a real 3-rank training run: every epoch trains 90 positions, 30 drawn
# samples exactly 3 times each, the 3 copies of a sample on the 3 different ranks; the next
# epoch draws other samples. Then the same run stopped mid-epoch 2 on 3 ranks and resumed on 2
# trains, in that epoch, the same sample at every position as the uninterrupted run (so still
# exact-repeats), and warns that on 2 ranks some of the 3 copies share a rank. Counted from the
# loader's indices (NXT_TRACE_SAMPLES: "epoch position index" per trained sample, one file per
# rank). 90 training images, batch 3 per rank: no padding on 2 or 3 ranks, so "exactly" holds
# to the sample.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
make_tiny_dataset "$work" 40
config=$(tiny_config "$work" repeated)
train=(--set run.threads_per_rank=1 --set data.batch_size=3 --set train.epochs=2
       --set data.sampler=repeated --set data.repeats=3)

mkdir -p "$work/trace.straight"
NXT_TRACE_SAMPLES="$work/trace.straight" run_bounded 300 "$work/out.straight" \
  "$nxt_mpirun" -np 3 "$bin/nxt_ddp" --config "$config" "${train[@]}"
[[ $code -eq 0 ]] || fail "the 3-rank run exited $code"
grep -q "train 90, val" "$work/out.straight" ||
  fail "expected 90 training images (see the data line)"
! grep -q "data.repeats 3 > " "$work/out.straight" || fail "3 ranks, 3 repeats: warned of sharing"

# In each epoch: positions 0..89 once each, 30 samples 3 times each, each sample's copies on
# ranks 0, 1 and 2 (the trace file names the rank); the two epochs draw different samples.
"$python" - "$work/trace.straight" <<'PY' || fail "the 3-rank run is not exact-repeats"
import collections, glob, re, sys
by_epoch = collections.defaultdict(list)  # epoch -> [(position, index, rank)]
for path in glob.glob(sys.argv[1] + '/samples.rank*.txt'):
    rank = int(re.search(r'rank(\d+)', path).group(1))
    for line in open(path):
        epoch, position, index = map(int, line.split())
        by_epoch[epoch].append((position, index, rank))
assert sorted(by_epoch) == [0, 1], 'epochs traced: %s' % sorted(by_epoch)
drawn = []
for epoch, visits in sorted(by_epoch.items()):
    positions = sorted(p for p, _, _ in visits)
    assert positions == list(range(90)), 'epoch %d: positions are not 0..89 once each' % epoch
    copies = collections.Counter(i for _, i, _ in visits)
    assert len(copies) == 30, \
        'epoch %d: %d distinct samples, expected 90 / 3 = 30' % (epoch, len(copies))
    wrong = {i: c for i, c in copies.items() if c != 3}
    assert not wrong, 'epoch %d: samples not seen exactly 3 times: %s' % (epoch, wrong)
    ranks = collections.defaultdict(set)
    for _, i, r in visits:
        ranks[i].add(r)
    shared = [i for i, rs in ranks.items() if len(rs) != 3]
    assert not shared, 'epoch %d: copies on fewer than 3 ranks for samples %s' % (epoch, shared[:5])
    drawn.append(set(copies))
assert drawn[0] != drawn[1], 'both epochs drew the same 30 samples'
print('3 ranks: each epoch 30 samples x 3 copies on 3 different ranks, positions 0..89 once;'
      ' %d of epoch 2\'s samples new' % len(drawn[1] - drawn[0]))
PY

# 3 ranks x batch 3 = 9 samples per step, 10 steps per epoch: step 14 is in epoch 2, after 4
# of its steps (36 samples); the rest (54) on 2 ranks.
stopped=$(tiny_config "$work" stopped)
mkdir -p "$work/trace.stopped" "$work/trace.resumed"
NXT_STOP_AT_STEP=14 NXT_TRACE_SAMPLES="$work/trace.stopped" run_bounded 300 "$work/out.stopped" \
  "$nxt_mpirun" -np 3 "$bin/nxt_ddp" --config "$stopped" "${train[@]}"
[[ $code -ne 0 ]] || fail "the stopped run finished instead of stopping"
grep -q "stopped by SIGUSR2" "$work/out.stopped" || fail "no stop message"
NXT_TRACE_SAMPLES="$work/trace.resumed" run_bounded 300 "$work/out.resumed" \
  "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$stopped" "${train[@]}" --resume auto
[[ $code -eq 0 ]] || fail "the run resumed on 2 ranks exited $code"
grep -qE "resumed from .*last.pt: epoch 2, step [0-9]+/[0-9]+ \(sample 36 of 90\)" \
  "$work/out.resumed" || fail "no resume line at epoch 2, sample 36"
grep -q "data.repeats 3 > 2 rank(s): some copies of a sample share a rank" "$work/out.resumed" ||
  fail "2 ranks, 3 repeats: no warning that copies share a rank"
traces=("$work/trace.straight" "$work/trace.stopped" "$work/trace.resumed")
"$python" - "${traces[@]}" <<'PY' || fail "resuming on 2 ranks changed the repeated epoch"
import collections, glob, sys
def epoch2(*folders):
    at = collections.defaultdict(list)  # position -> [index]
    for folder in folders:
        for path in glob.glob(folder + '/samples.rank*.txt'):
            for line in open(path):
                epoch, position, index = map(int, line.split())
                if epoch == 1:
                    at[position].append(index)
    return at
straight, interrupted = epoch2(sys.argv[1]), epoch2(sys.argv[2], sys.argv[3])
assert sorted(interrupted) == list(range(90)), 'stopped + resumed: positions are not 0..89'
twice = [p for p, i in interrupted.items() if len(i) != 1]
assert not twice, 'positions trained twice across the stop: %s' % twice[:5]
differ = [p for p in range(90) if interrupted[p] != straight[p]]
assert not differ, 'positions %s hold other samples than on 3 ranks straight' % differ[:5]
copies = collections.Counter(i[0] for i in interrupted.values())
assert sorted(copies.values()) == [3] * 30, 'not 30 samples x 3: %s' % copies
print('3 -> 2 ranks mid-epoch 2: the same sample at every position as the straight run, 30 x 3')
PY
echo "PASS: repeated augmentation is exact-repeats across ranks and across a world-size change"
