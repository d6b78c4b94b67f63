#!/usr/bin/env bash
# Note [Watchdog] (src/comm/communicator.h): a peer that stops answering without dying (here a
# SIGSTOPped rank) must not hang the job. With dist.timeout_s: 10, the job ends non-zero within
# the timeout plus a few seconds, and the message names the waiting rank, the collective and
# the time waited. Rank 0 leaves its flight record (the stderr table and flight_rank0.json)
# whichever of its threads notices first: its main thread's own wait, or the watchdog
# (issue 34, 8: the main thread's timeout used to end the job without a record).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
make_tiny_dataset "$work" 40
config=$(tiny_config "$work" watchdog)
stopped_pid=""
cleanup() { [[ -n "$stopped_pid" ]] && kill -CONT "$stopped_pid" 2>/dev/null; }
trap 'cleanup; rm -rf "$work"' EXIT

start=$(date +%s)
"$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" --set run.threads_per_rank=1 \
  --set train.epochs=200 --set dist.timeout_s=10 >"$work/out" 2>&1 &
job=$!
for _ in $(seq 300); do grep -q "placement: rank=1" "$work/out" 2>/dev/null && break; sleep 0.1; done
sleep 2  # into the training loop
stopped_pid=$(rank_pid 1 "$config") || { kill "$job"; cat "$work/out"; fail "rank 1's process not found"; }
kill -STOP "$stopped_pid" || fail "could not stop rank 1 (pid $stopped_pid)"
stopped_at=$(date +%s)
echo "SIGSTOP to rank 1 (pid $stopped_pid) $((stopped_at - start)) s after the start"
for _ in $(seq 600); do kill -0 "$job" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$job" 2>/dev/null; then
  kill -CONT "$stopped_pid"; kill "$job"; cat "$work/out"; fail "the job still runs 60 s after SIGSTOP"
fi
wait "$job"
code=$?
ended=$(( $(date +%s) - stopped_at ))
cat "$work/out"
[[ $code -ne 0 ]] || fail "the job exited 0"
grep -qE "rank 0: .* has not finished after 1[0-9]\.[0-9] s \(dist.timeout_s = 10\)" "$work/out" ||
  fail "no watchdog message naming rank 0, the collective and the time"
grep -qE "^\[rank 0\] (a host wait timed out|watchdog fired).*; flight record of rank 0" \
  "$work/out" || fail "rank 0 left no flight record table on stderr"
py "
import json
record = json.load(open('$work/runs/watchdog/flight_rank0.json'))
assert record['rank'] == 0, record
unfinished = [c for c in record['collectives'] if c['state'] != 'finished']
assert unfinished and unfinished[0]['enqueued_s_ago'] >= 10, unfinished
print('flight_rank0.json: oldest unfinished', unfinished[0]['kind'], '#%d' % unfinished[0]['sequence'])
" || fail "rank 0's flight_rank0.json is missing or names no collective waiting >= 10 s"
[[ $ended -le 25 ]] || fail "the job ended ${ended}s after the SIGSTOP (timeout 10 s + 15 s)"
echo "PASS: a stopped peer ended the job ${ended}s after SIGSTOP (dist.timeout_s = 10), exit $code"
