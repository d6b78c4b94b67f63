#!/usr/bin/env bash
# --resume auto takes the newest good state wherever it is (Note [In-memory snapshots] in
# src/checkpoint/snapshots.h). 3 fake nodes x 1 rank, each with its own snapshot folder (a
# private mount), snapshots every 2 steps; the job is killed outright (every process, SIGKILL)
# once node A has a snapshot of step >= 10. Then A's newest snapshot is cut in half (a damaged
# file), and node C's folder gets back an older snapshot of its own, saved while the job ran.
# Resumed on the same 3 nodes, every rank must start from node B's snapshot (the newest good
# one, broadcast by rank 1), the log must name A's damaged file and C's older step as passed
# over, and the job must complete.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
require_fake_nodes
make_tiny_dataset "$work" 80
cfg=$(tiny_config "$work" newest)
sets=(--set run.threads_per_rank=1 --set train.epochs=2 --set train.snapshot_every_steps=2
      --set "train.snapshot_dir=$work/shm")
mkdir -p "$work/shm" "$work/older"
export NXT_FAKE_PRIVATE_DIR=$work/shm NXT_FAKE_PRIVATE_ROOT=$work/nodes
node_a=$(node_name 1) node_b=$(node_name 2) node_c=$(node_name 3)
# snapshots NODE: that node's snapshot files, oldest first.
snapshots() { compgen -G "$work/nodes/$1/nxt-snapshots-*/newest-*/$1/step-*.pt" | sort; }
step_of() { local name=${1##*/step-}; echo $(( 10#${name%%-*} )); }

fake_launch 3 1
NXT_SLOW_COMPUTE_RANK=0 NXT_SLOW_RANK_MS=150 timeout 300 "${fake_mpirun[@]}" "$bin/nxt_ddp" \
  --config "$cfg" "${sets[@]}" >"$work/out1" 2>&1 &
job=$!
# C's snapshot of step 4, kept aside while it exists (the next one removes it).
older_of_c() {
  local f
  f=$(snapshots "$node_c" | grep "/step-000000000004-") || return 1
  cp "$f" "$work/older/" 2>/dev/null
}
wait_for 120 older_of_c || { cat "$work/out1"; fail "no snapshot of step 4 on $node_c"; }
late_on_a() { snapshots "$node_a" | grep -qE "/step-0000000000(1[0-9])-"; }
wait_for 120 late_on_a || { cat "$work/out1"; fail "no snapshot of step >= 10 on $node_a"; }
# shellcheck disable=SC2046
kill -KILL $(job_pids) 2>/dev/null
wait "$job" 2>/dev/null
sleep 0.5  # the writer threads died with their processes: no file changes after this

newest_a=$(snapshots "$node_a" | tail -1)
newest_b=$(snapshots "$node_b" | tail -1)
[[ -n "$newest_a" && -n "$newest_b" ]] || fail "missing snapshots: A '$newest_a', B '$newest_b'"
truncate -s $(( $(stat -c %s "$newest_a") / 2 )) "$newest_a"
folder_c=$(dirname "$(snapshots "$node_c" | tail -1)")
rm -f "$folder_c"/step-*.pt
cp "$work/older/"step-*.pt "$folder_c/"
b_step=$(step_of "$newest_b")
echo "A's newest cut in half: $newest_a; B's newest: step $b_step; C holds only step 4 again"

fake_launch 3 1
run_bounded 300 "$work/out2" "${fake_mpirun[@]}" "$bin/nxt_ddp" --config "$cfg" "${sets[@]}" \
  --resume auto >/dev/null
[[ $code -eq 0 ]] || { cat "$work/out2"; fail "the resumed job exited $code"; }
check_nodes_launched 3
# (Named by its path inside node A, where the node's folder is mounted over $work/shm.)
grep -q "r0\] --resume auto: snapshot '$work/shm/.*/$node_a/${newest_a##*/}' is damaged" "$work/out2" ||
  { cat "$work/out2"; fail "A's damaged snapshot was not named"; }
grep -q "the newest state is step $b_step, the in-memory snapshot on $node_b (rank 1); passed over: the older snapshot of step 4 on $node_c" "$work/out2" ||
  { cat "$work/out2"; fail "B's snapshot of step $b_step did not win, or C's older one was not named"; }
grep -q "resumed from $node_b:.*/step-0*$b_step-" "$work/out2" ||
  { cat "$work/out2"; fail "not resumed from B's snapshot"; }
echo "PASS: resumed at step $b_step from $node_b's snapshot; A's damaged and C's older snapshot passed over"
