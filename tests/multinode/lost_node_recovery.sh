#!/usr/bin/env bash
# A lost node costs seconds, not a requeue (Note [In-memory snapshots] in
# src/checkpoint/snapshots.h). 3 fake nodes x 1 rank under `nxt_mpirun --hostfile --restarts 2`,
# each node with its own snapshot folder (a private mount, as /dev/shm is), snapshots every 3
# steps, dist.timeout_s 10. Mid-epoch, node C (the third) goes down: its host is marked
# unreachable and every process on it gets SIGKILL. The launcher must find C lost, start the
# job again on A and B, and nxt must continue from the newest snapshot: the recovery line and
# train_log.jsonl name the lost node, the step resumed from and the steps lost (at most 3), the
# first step after the recovery comes within 30 s of the kill, the job ends 0, and its final
# parameters are bitwise those of a reference run that stopped at the resumed step on 3 nodes
# and resumed on 2. Then the same with a spare (NXT_SPARE_NODES=1, a fourth node): the spare
# takes C's place, the world size stays 3, and the final parameters are bitwise those of an
# uninterrupted 3-node run. Prints the measured figures.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
require_fake_nodes
make_tiny_dataset "$work" 80  # 180 training images: 15 steps per epoch on 3 ranks of 4
every=3
sets=(--set run.threads_per_rank=1 --set train.epochs=2 --set dist.timeout_s=10
      --set train.snapshot_every_steps=$every --set "train.snapshot_dir=$work/shm")
lost_cfg=$(tiny_config "$work" lost)
ref_cfg=$(tiny_config "$work" reference)
mkdir -p "$work/shm" "$work/down"
export NXT_FAKE_PRIVATE_DIR=$work/shm NXT_FAKE_PRIVATE_ROOT=$work/nodes NXT_FAKE_DOWN_DIR=$work/down
node_a=$(node_name 1) node_c=$(node_name 3)
host_c=127.0.0.4  # node C's line in the hostfile, the name the launcher reports

# --- the run that loses node C ----------------------------------------------------------------
fake_launch 3 1 hostfile
export OMPI_MCA_plm_rsh_agent=$fake_ssh
export NXT_MPIRUN_ARGS="--oversubscribe --mca plm_rsh_no_tree_spawn 1 --mca oob_tcp_if_include lo
  --mca btl_tcp_if_include lo --mca btl self,vader,tcp"
# Rank 0 sleeps 100 ms a step, so that the kill lands between two snapshots, not after the end.
NXT_SLOW_COMPUTE_RANK=0 NXT_SLOW_RANK_MS=100 NXT_PROBE_TIMEOUT_S=10 \
  timeout 300 "$nxt_mpirun" --hostfile "$work/hostfile" --restarts 2 \
  "$bin/nxt_ddp" --config "$lost_cfg" "${sets[@]}" >"$work/out" 2>&1 &
job=$!
# take_down_c_after_snapshot RUN OUT: once node A has a snapshot of step >= 6 of RUN, node C goes
# down: its host unreachable, SIGKILL to every process on it. Sets killed_at.
take_down_c_after_snapshot() {
  local run=$1 out=$2 pid victims=()
  snapshot_of_a() { compgen -G "$work/nodes/$node_a/nxt-snapshots-*/$run-*/$node_a/step-00000000000[6-9]-*.pt"; }
  wait_for 120 snapshot_of_a || { cat "$out"; fail "no snapshot of step >= 6 on $node_a within 120 s"; }
  for pid in $(job_pids); do [[ $(host_of "$pid") == "$node_c" ]] && victims+=("$pid"); done
  [[ ${#victims[@]} -ge 2 ]] ||
    { cat "$out"; fail "found ${#victims[@]} process(es) on $node_c, expected its daemon and rank"; }
  touch "$work/down/$node_c"
  killed_at=$(date +%s.%N)
  kill -KILL "${victims[@]}"
  echo "node $node_c down: SIGKILL to ${victims[*]} at $(date -Is)"
}
take_down_c_after_snapshot lost "$work/out"
recovered() { grep -q "recovery: " "$work/out"; }
wait_for 120 recovered || { cat "$work/out"; fail "no recovery line within 120 s of the kill"; }
recovered_at=$(date +%s.%N)
wait "$job"
code=$?
cat "$work/out"
[[ $code -eq 0 ]] || fail "the job that lost $node_c exited $code"
line=$(grep -o "recovery: .*" "$work/out" | head -1)
[[ $line =~ reached\ step\ ([0-9]+)\ when\ it\ failed\;\ resumed\ at\ step\ ([0-9]+)\ from\ ([^ ]+)\ \(([0-9]+)\ step ]] ||
  fail "cannot read the recovery line: $line"
reached=${BASH_REMATCH[1]} resumed=${BASH_REMATCH[2]} source=${BASH_REMATCH[3]} lost=${BASH_REMATCH[4]}
[[ $line == *"lost node(s): $host_c;"* ]] || fail "the recovery line does not name $host_c: $line"
[[ $line == *"restart 1"* ]] || fail "the recovery line does not say restart 1: $line"
[[ $source == "$node_a:"*step-* ]] || fail "resumed from $source, not $node_a's snapshot"
(( resumed % every == 0 && lost <= every && reached - resumed == lost )) ||
  fail "resumed at $resumed, reached $reached, $lost step(s) lost (snapshots every $every)"
grep -q "nxt: restart 1 of 2 on 2 host(s): .* lost: $host_c " "$work/out" ||
  fail "the launcher did not restart on 2 hosts without $node_c"
py "
import json
events = [json.loads(l) for l in open('$work/runs/lost/train_log.jsonl') if '\"recovery\"' in l]
assert len(events) == 1, events
e = events[0]
assert e['resumed_from_step'] == $resumed and e['steps_lost'] == $lost and e['lost_nodes'] == '$host_c', e
print('train_log.jsonl:', e)
" || fail "train_log.jsonl has no right recovery event"
for node in "$node_a" "$(node_name 2)"; do
  [[ -z $(compgen -G "$work/nodes/$node/nxt-snapshots-*") ]] ||
    fail "the finished run left snapshots on $node: $(compgen -G "$work/nodes/$node/nxt-snapshots-*")"
done
seconds=$(awk -v a="$killed_at" -v b="$recovered_at" 'BEGIN { printf "%.1f", b - a }')
awk -v s="$seconds" 'BEGIN { exit !(s < 30) }' || fail "the first step after recovery came ${seconds}s after the kill (limit 30 s)"

# --- the reference: stopped at the resumed step on 3 nodes, resumed on 2 ------------------
unset OMPI_MCA_plm_rsh_agent NXT_FAKE_DOWN_DIR
rm -f "$work/down/$node_c"
fake_launch 3 1
NXT_STOP_AT_STEP=$resumed run_bounded 300 "$work/ref1" "${fake_mpirun[@]}" "$bin/nxt_ddp" \
  --config "$ref_cfg" "${sets[@]}" >/dev/null
[[ $code -eq 75 ]] || { cat "$work/ref1"; fail "the reference did not stop at step $resumed (exit $code)"; }
fake_launch 2 1
run_bounded 300 "$work/ref2" "${fake_mpirun[@]}" "$bin/nxt_ddp" --config "$ref_cfg" "${sets[@]}" \
  --resume auto >/dev/null
[[ $code -eq 0 ]] || { cat "$work/ref2"; fail "the reference's resume on 2 nodes exited $code"; }
expect_same_parameters "$work/runs/lost/last.pt" "$work/runs/reference/last.pt"

# --- with a spare: node E takes C's place, the world stays 3 ---------------------------------
spare_cfg=$(tiny_config "$work" spare)
straight_cfg=$(tiny_config "$work" straight)
fake_launch 4 1 hostfile
export OMPI_MCA_plm_rsh_agent=$fake_ssh NXT_FAKE_DOWN_DIR=$work/down
NXT_SPARE_NODES=1 NXT_SLOW_COMPUTE_RANK=0 NXT_SLOW_RANK_MS=100 NXT_PROBE_TIMEOUT_S=10 \
  timeout 300 "$nxt_mpirun" --hostfile "$work/hostfile" --restarts 2 \
  "$bin/nxt_ddp" --config "$spare_cfg" "${sets[@]}" >"$work/out_spare" 2>&1 &
job=$!
take_down_c_after_snapshot spare "$work/out_spare"
wait "$job"
code=$?
cat "$work/out_spare"
[[ $code -eq 0 ]] || fail "the job with a spare exited $code"
grep -q "nxt: spare host 127.0.0.5 takes a lost host's place" "$work/out_spare" ||
  fail "the spare did not take the lost host's place"
grep -q "nxt: restart 1 of 2 on 3 host(s): 127.0.0.2 127.0.0.3 127.0.0.5; lost: $host_c " \
  "$work/out_spare" || fail "the launcher did not restart on A, B and the spare"
grep -q "world size changed" "$work/out_spare" && fail "the world size changed although a spare was there"
spare_line=$(grep -o "recovery: .*" "$work/out_spare" | head -1)
[[ -n $spare_line ]] || fail "no recovery line with the spare"
unset OMPI_MCA_plm_rsh_agent NXT_FAKE_DOWN_DIR
fake_launch 3 1
run_bounded 300 "$work/straight" "${fake_mpirun[@]}" "$bin/nxt_ddp" --config "$straight_cfg" \
  "${sets[@]}" >/dev/null
[[ $code -eq 0 ]] || { cat "$work/straight"; fail "the uninterrupted run exited $code"; }
expect_same_parameters "$work/runs/spare/last.pt" "$work/runs/straight/last.pt"
echo "spare: $spare_line"
echo "PASS: $node_c lost at step $reached; resumed on 2 nodes at step $resumed from $node_a's" \
  "snapshot, $lost step(s) lost; first step ${seconds}s after the kill; final parameters equal" \
  "to a stop at step $resumed and a resume on 2 nodes; with a spare the world stayed 3 and the" \
  "result is an uninterrupted run's"
