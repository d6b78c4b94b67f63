#!/usr/bin/env bash
# Note [Watchdog]: while rank 0 evaluates alone (eval.mode rank0), the other ranks wait under
# dist.rank0_phase_timeout_s, not dist.timeout_s. NXT_SLOW_RANK0_EVAL_S=6 makes each of rank
# 0's evaluations 6 s longer than dist.timeout_s = 3: the run must finish. With
# dist.rank0_phase_timeout_s = 3 as well, the same run must end, naming that key (so the first
# run passed because of the phase deadline, not by luck).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
make_tiny_dataset "$work" 12
config=$(tiny_config "$work" slow_eval)
trap 'rm -rf "$work"' EXIT
common=(--set run.threads_per_rank=1 --set train.epochs=1 --set dist.timeout_s=3 --set eval.mode=rank0)

NXT_SLOW_RANK0_EVAL_S=6 run_bounded 90 "$work/out" \
  "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" "${common[@]}"
[[ $code -eq 0 ]] || fail "a rank-0 evaluation 6 s past dist.timeout_s ended the run (exit $code)"
grep -q "done: best val acc" "$work/out" || fail "the run did not finish"

NXT_SLOW_RANK0_EVAL_S=6 run_bounded 90 "$work/out" \
  "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" "${common[@]}" \
  --set run.name=slow_eval_short --set dist.rank0_phase_timeout_s=3
expect_clean_failure 60
grep -qE "rank 1: .* has not finished after [3-9]\.[0-9] s \(dist.rank0_phase_timeout_s = 3\)" \
  "$work/out" || fail "rank 1 did not end the job under dist.rank0_phase_timeout_s"
echo "PASS: a rank-0 evaluation 6 s past dist.timeout_s (3 s) finished; under dist.rank0_phase_timeout_s = 3 it ended the job"
