#!/usr/bin/env bash
# The straggler report under mpirun -np 2 (Note [Straggler report] in src/train/step_telemetry.h):
#  - rank 1's loader sleeps 150 ms a batch (NXT_SLOW_DATA_RANK=1): rank 0's log names rank 1 and
#    its host as more than 1.2x the median rank's busy time, slow phase data, and
#    train_log.jsonl's per-rank figures show rank 1's data wait and rank 0's all-reduce wait
#    (it waits for rank 1) each ~150 ms above the other rank's;
#  - rank 0 sleeps after its backward (NXT_SLOW_COMPUTE_RANK=0): the report names rank 0, phase
#    compute;
#  - without a hook, no rank is reported 2x slower than the median (a loose bound: the 2 cores
#    are shared).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
make_tiny_dataset "$work"
config=$(tiny_config "$work" straggler)
host=$(hostname)
common=(--set run.threads_per_rank=1 --set train.epochs=2 --set train.log_every_seconds=1
        --set train.log_every_steps=4)
log="$work/runs/straggler/train_log.jsonl"

# run_slowed NAME RANK PHASE HOOK: a run with HOOK=RANK slowing RANK by 150 ms a batch; its
# straggler report must name RANK, this host and PHASE, and list RANK as above 1.2x.
run_slowed() {
  local name=$1 rank=$2 phase=$3 hook=$4 out="$work/out_$1" line
  env "$hook=$rank" NXT_SLOW_RANK_MS=150 timeout 300 \
    "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" "${common[@]}" >"$out" 2>&1 ||
    { cat "$out"; fail "the run with $hook=$rank exited $?"; }
  line=$(grep -m1 "straggler report (steps .*slowest rank $rank ($host) is" "$out") ||
    { grep "straggler report" "$out"; fail "$hook=$rank: no straggler line naming rank $rank ($host)"; }
  echo "report: ${line#*] }"
  [[ $line == *"slow phase: $phase"* && $line == *"median: rank $rank ($host)"* ]] ||
    fail "$hook=$rank: the report does not name phase $phase of rank $rank: $line"
}

run_slowed data 1 data NXT_SLOW_DATA_RANK
grep "straggler report" "$work/out_data" | grep -q "slowest rank 0" &&
  fail "a report named rank 0 while rank 1 was the slow one"
py "
import json
lines = [json.loads(l) for l in open('$log') if '\"ranks\"' in l]
assert lines, 'no train_log.jsonl line with per-rank figures'
for l in lines[1:]:  # the first window holds the start-up steps
    r0, r1 = l['ranks']
    assert (r0['rank'], r1['rank'], r1['host']) == (0, 1, '$host'), l['ranks']
    assert r1['data_ms'] - r0['data_ms'] > 100, ('rank 1 data wait', l['ranks'])
    assert r0['allreduce_wait_ms'] - r1['allreduce_wait_ms'] > 100, ('rank 0 waits', l['ranks'])
    assert l['slowest_rank'] == 1 and l['slowest_ratio'] > 1.2, l
print('train_log.jsonl, last line:', json.dumps(lines[-1]['ranks']))
" || fail "train_log.jsonl's per-rank figures do not show rank 1's slow loader"

run_slowed compute 0 compute NXT_SLOW_COMPUTE_RANK

# Unslowed, 2 epochs may take under a second: a line every 0.2 s.
run_bounded 300 "$work/out_clean" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" \
  "${common[@]}" --set train.log_every_seconds=0.2 >/dev/null
[[ $code -eq 0 ]] || { cat "$work/out_clean"; fail "the run without a hook exited $code"; }
grep -q "straggler report" "$work/out_clean" || fail "no straggler report line without a hook"
py "
import json, re
ratios = [float(r) for r in re.findall(r'straggler report .*?slowest rank \d \([^)]*\) (?:is )?([0-9.]+)x', open('$work/out_clean').read())]
assert ratios and max(ratios) < 2, ratios
print('without a hook, slowest-rank ratios:', ratios)
" || fail "without a hook a rank was reported 2x slower than the median"
echo "PASS: the straggler report names the slowed rank, its host and its phase"
