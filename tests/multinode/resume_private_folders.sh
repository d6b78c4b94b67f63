#!/usr/bin/env bash
# Stop and resume on nodes that share no file system. Each fake node bind-mounts its own empty
# folder over the run folder path (run.out_dir), so only rank 0's node can see the run files.
# A 2 nodes x 1 rank run stopped by SIGUSR2 sent to the rank on the SECOND node (mid-epoch 2)
# must exit non-zero (nxt_ddp: 75), and, resumed with --resume auto (rank 0 reads last.pt and
# broadcasts it; the other node has no file to read), end with the same parameters
# (torch.equal on every tensor of last.pt) and the same metrics.csv (columns 1-6) as an
# uninterrupted run. Afterwards the second node's private folder must still be empty, and
# nothing may have been written to the run folder path outside the nodes.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
require_fake_nodes
make_tiny_dataset "$work" 60
args=(--set run.threads_per_rank=1 --set train.epochs=3)
straight=$(tiny_config "$work" straight)
stopped=$(tiny_config "$work" stopped)
mkdir -p "$work/runs"
export NXT_FAKE_PRIVATE_DIR="$work/runs"
first=$(node_name 1) second=$(node_name 2)

# check_private ROOT NAME: run NAME's files are in rank 0's node's folder only.
check_private() {
  local root=$1 name=$2 f
  for f in last.pt metrics.csv config.yaml log.txt; do
    [[ -f "$root/$first/$name/$f" ]] || fail "no $f in $first's private folder $root/$first/$name"
  done
  [[ -d "$root/$second" ]] || fail "fake_ssh did not create $second's private folder"
  [[ -z $(find "$root/$second" -mindepth 1) ]] ||
    fail "files appeared in $second's private folder: $(find "$root/$second" -mindepth 1)"
  [[ -z $(find "$work/runs" -mindepth 1) ]] ||
    fail "files appeared in the run folder outside the nodes: $(find "$work/runs" -mindepth 1)"
}

# The uninterrupted run.
export NXT_FAKE_PRIVATE_ROOT="$work/nodes_straight"
fake_launch 2 1
run_bounded 300 "$work/out1" "${fake_mpirun[@]}" "$bin/nxt_ddp" --config "$straight" "${args[@]}"
[[ $code -eq 0 ]] || fail "the straight run exited $code"
check_nodes_launched 2
check_private "$work/nodes_straight" straight

# The same run, stopped by SIGUSR2 to the second node's rank early in epoch 2.
export NXT_FAKE_PRIVATE_ROOT="$work/nodes_stopped"
csv="$work/nodes_stopped/$first/stopped/metrics.csv"
epoch_done() { [[ -f "$csv" && $(wc -l <"$csv") -ge 2 ]]; }
fake_launch 2 1
timeout 300 "${fake_mpirun[@]}" "$bin/nxt_ddp" --config "$stopped" "${args[@]}" >"$work/out2" 2>&1 &
job=$!
wait_for 120 epoch_done || { cat "$work/out2"; fail "epoch 1 did not finish within 120 s"; }
sleep 0.1
pid=$(rank_pid 1 "$stopped") || { cat "$work/out2"; fail "no process of rank 1"; }
[[ $(host_of "$pid") == "$second" ]] || fail "rank 1 (pid $pid) runs on '$(host_of "$pid")', not $second"
echo "sending SIGUSR2 to rank 1, pid $pid on $second"
kill -USR2 "$pid" || fail "cannot signal rank 1 (pid $pid)"
signalled_at=$(date +%s.%N)
wait "$job"
stop_code=$?
stop_seconds=$(awk -v a="$signalled_at" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
cat "$work/out2"
[[ $stop_code -ne 0 ]] || fail "the stopped run exited 0 (finished instead of stopping? signal too late?)"
[[ $stop_code -ne 124 ]] || fail "the stopped run hung"
grep -q "stopped by SIGUSR2" "$work/out2" || fail "no stop message"
echo "stopped run: mpirun exit $stop_code, ${stop_seconds}s after the signal"

# Resume from rank 0's node's last.pt.
fake_launch 2 1
run_bounded 300 "$work/out3" "${fake_mpirun[@]}" "$bin/nxt_ddp" --config "$stopped" "${args[@]}" --resume auto
[[ $code -eq 0 ]] || fail "the resumed run exited $code"
resumed=$(grep -oE "resumed from [^ ]*last.pt: epoch [0-9]+, step [0-9]+/[0-9]+" "$work/out3") ||
  fail "did not resume"
echo "$resumed"
if ! [[ $resumed =~ step\ ([0-9]+)/([0-9]+)$ ]] ||
   (( BASH_REMATCH[1] == 0 || BASH_REMATCH[1] >= BASH_REMATCH[2] )); then
  fail "not a mid-epoch resume: $resumed"
fi
check_private "$work/nodes_stopped" stopped

cut -d, -f1-6 "$work/nodes_straight/$first/straight/metrics.csv" >"$work/a.csv"
cut -d, -f1-6 "$csv" >"$work/b.csv"
diff "$work/a.csv" "$work/b.csv" || fail "metrics.csv differs between the straight and the resumed run"
expect_same_parameters "$work/nodes_straight/$first/straight/last.pt" "${csv%metrics.csv}last.pt"
echo "PASS: stopped on $second (exit $stop_code), resumed at ${resumed#resumed from *: }, same parameters and metrics; run files only on $first"
