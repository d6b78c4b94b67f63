#!/usr/bin/env bash
# Resume equivalence: 3 epochs straight, against 3 epochs interrupted by SIGUSR2 sent to one
# rank only (mid-epoch 2) and continued with --resume auto, end with identical parameters and
# identical metrics. The interrupted run must exit with 75 ("checkpointed, resume me"): the
# launcher, rank 0's NXT_EXIT_STATUS_FILE and every rank's stop line.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
make_tiny_dataset "$work" 60
straight=$(tiny_config "$work" straight)
stopped=$(tiny_config "$work" stopped)
run_bounded 300 "$work/out1" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$straight" --set run.threads_per_rank=1
[[ $code -eq 0 ]] || fail "the straight run exited $code"

NXT_EXIT_STATUS_FILE="$work/status" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$stopped" \
  --set run.threads_per_rank=1 >"$work/out2" 2>&1 &
job=$!
csv="$work/runs/stopped/metrics.csv"
wait_for 60 eval '[[ $(wc -l <"$csv") -ge 2 ]]' || fail "epoch 1 did not end"
sleep 0.3
signal_rank USR2 1 "$stopped"
wait $job
code=$?
cat "$work/out2"
expect_checkpointed_stop SIGUSR2 "$work/out2" "$work/runs/stopped" "$work/status" 2
run_bounded 300 "$work/out3" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$stopped" --set run.threads_per_rank=1 --resume auto
[[ $code -eq 0 ]] || fail "the resumed run exited $code"
grep -qE "resumed from .*last.pt: epoch [0-9]+, step [0-9]+" "$work/out3" || fail "did not resume"
cut -d, -f1-6 "$work/runs/straight/metrics.csv" >"$work/a.csv"
cut -d, -f1-6 "$csv" >"$work/b.csv"
diff "$work/a.csv" "$work/b.csv" || fail "metrics differ"
expect_same_parameters "$work/runs/straight/last.pt" "$work/runs/stopped/last.pt"
echo "PASS: resumed run equals the straight run"
