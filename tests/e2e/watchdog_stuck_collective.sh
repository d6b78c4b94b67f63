#!/usr/bin/env bash
# Note [Watchdog] (src/comm/communicator.h): a collective that never completes while the main
# thread is blocked elsewhere (not in a host wait: on a GPU, inside a kernel launch behind a
# full queue) must still end the job. NXT_STALL_AT_STEP=3 makes the last rank never start step
# 3's backward and rank 0's main thread stall after issuing its gradient buckets; only rank 0's
# watchdog thread can then see the bucket all-reduce pass dist.timeout_s. It must end the job
# within dist.timeout_s + 10 s, naming the rank, the collective, its sequence number and the
# time waited, and leave rank 0's flight record (stderr table and flight_rank0.json).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
make_tiny_dataset "$work" 20
config=$(tiny_config "$work" stuck)
trap 'rm -rf "$work"' EXIT

NXT_STALL_AT_STEP=3 "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" \
  --set run.threads_per_rank=1 --set dist.timeout_s=5 >"$work/out" 2>&1 &
job=$!
wait_for 60 grep -q "stalls with its gradient buckets in flight" "$work/out" ||
  { kill "$job"; cat "$work/out"; fail "rank 0 never reached the stall"; }
stalled_at=$(date +%s.%N)
for _ in $(seq 300); do kill -0 "$job" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$job" 2>/dev/null; then
  kill -9 "$job"; pkill -9 -f "nxt_ddp --config $config"; cat "$work/out"
  fail "the job still runs 30 s after rank 0 stalled (dist.timeout_s = 5)"
fi
wait "$job"
code=$?
ended=$(py "print('%.1f' % ($(date +%s.%N) - $stalled_at))")
cat "$work/out"
[[ $code -ne 0 ]] || fail "the job exited 0"
grep -qE "FATAL: watchdog: rank 0: all-reduce #[0-9]+ of [0-9.]+ MB \(bucket [0-9]+\)(, queued behind an earlier one)? has not finished after [5-9]\.[0-9] s \(dist.timeout_s = 5\)" "$work/out" ||
  fail "no watchdog message naming rank 0, the bucket all-reduce, its sequence number and the time"
grep -q "watchdog fired; flight record of rank 0" "$work/out" || fail "no flight record on stderr"
py "
import json, sys
record = json.load(open('$work/runs/stuck/flight_rank0.json'))
assert record['rank'] == 0, record['rank']
c = record['collectives']
assert 1 <= len(c) <= 64, len(c)
seqs = [e['sequence'] for e in c]
assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
stuck = [e for e in c if e['state'] != 'finished']
assert stuck and all(e['kind'] == 'all-reduce' and e['bucket'] >= 0 for e in stuck), stuck
assert stuck[0]['enqueued_s_ago'] >= 5, stuck[0]
done = [e for e in c if e['state'] == 'finished']
assert done and all(e['finished_s_ago'] <= e['enqueued_s_ago'] for e in done)
print('flight_rank0.json:', len(c), 'collectives,', len(stuck), 'unfinished from #%d' % stuck[0]['sequence'])
" || fail "flight_rank0.json is missing or wrong"
py "import sys; sys.exit(0 if $ended <= 15 else 1)" ||
  fail "the job ended ${ended}s after the stall (dist.timeout_s 5 + 10)"
echo "PASS: the watchdog thread ended the job ${ended}s after rank 0 stalled (dist.timeout_s = 5), exit $code"
