#!/usr/bin/env bash
# Resume equivalence: 3 epochs straight, against 3 epochs interrupted by SIGUSR2 sent to one
# rank only (mid-epoch 2) and continued with --resume auto, end with identical parameters and
# identical metrics. The interrupted run must exit with 75 ("checkpointed, resume me").
set -uo pipefail
source "$(dirname "$0")/lib.sh"
make_tiny_dataset "$work" 60
straight=$(tiny_config "$work" straight)
stopped=$(tiny_config "$work" stopped)
run_bounded 300 "$work/out1" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$straight" --set run.threads_per_rank=1
[[ $code -eq 0 ]] || fail "the straight run exited $code"

"$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$stopped" --set run.threads_per_rank=1 >"$work/out2" 2>&1 &
job=$!
csv="$work/runs/stopped/metrics.csv"
for _ in $(seq 600); do [[ -f "$csv" && $(wc -l <"$csv") -ge 2 ]] && break; sleep 0.1; done
sleep 0.3
rank1=$(pgrep -f "nxt_ddp --config $stopped" | sort -n | tail -1)  # one rank's process
kill -USR2 "$rank1" || fail "no rank process to signal"
wait $job
code=$?
cat "$work/out2"
[[ $code -ne 0 ]] || fail "the stopped run finished instead of stopping (signal too late?)"
grep -q "stopped by SIGUSR2" "$work/out2" || fail "no stop message"
grep -q "exited with status 75\|exit code: *75\|Exit code: *75" "$work/out2" || echo "(mpirun exit $code)"
run_bounded 300 "$work/out3" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$stopped" --set run.threads_per_rank=1 --resume auto
[[ $code -eq 0 ]] || fail "the resumed run exited $code"
grep -qE "resumed from .*last.pt: epoch [0-9]+, step [0-9]+" "$work/out3" || fail "did not resume"
cut -d, -f1-6 "$work/runs/straight/metrics.csv" >"$work/a.csv"
cut -d, -f1-6 "$csv" >"$work/b.csv"
diff "$work/a.csv" "$work/b.csv" || fail "metrics differ"
expect_same_parameters "$work/runs/straight/last.pt" "$work/runs/stopped/last.pt"
echo "PASS: resumed run equals the straight run"
