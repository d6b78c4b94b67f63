#!/usr/bin/env bash
# Gradients averaged across nodes: 2 fake nodes x 1 rank must train the same parameters as
# 1 node x 2 ranks (max relative difference <= 1e-5 over every tensor of last.pt), although the
# two runs average gradients by different paths: across nodes there is no shared memory, so
# every rank must log `allreduce=mpi` (MPI over TCP); within one node every rank must log
# `allreduce=shm` (the shared-memory all-reduce).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
require_fake_nodes
make_tiny_dataset "$work"
args=(--set run.threads_per_rank=1 --set train.epochs=2)

# check_placement OUT WORLD ALLREDUCE SAME_HOST: every rank's placement line, its all-reduce
# path, and whether the ranks share one host name (yes) or not (no).
check_placement() {
  local out=$1 world=$2 path=$3 same=$4 r hosts=()
  [[ $(placement_lines "$out" | wc -l) -eq $world ]] ||
    fail "$out: expected $world placement lines, got: $(placement_lines "$out")"
  for (( r = 0; r < world; r++ )); do
    [[ $(placement_field "$out" $r world) == "$world" ]] || fail "rank $r: world is not $world"
    [[ $(placement_field "$out" $r allreduce) == "$path" ]] ||
      fail "rank $r used allreduce=$(placement_field "$out" $r allreduce), expected $path"
    hosts+=("$(placement_field "$out" $r host)")
  done
  if [[ $same == yes ]]; then
    [[ ${hosts[0]} == "$(node_name 1)" && ${hosts[1]} == "${hosts[0]}" ]] ||
      fail "the ranks of one node report hosts ${hosts[*]}"
  else
    [[ ${hosts[0]} == "$(node_name 1)" && ${hosts[1]} == "$(node_name 2)" ]] ||
      fail "the ranks of two nodes report hosts ${hosts[*]}"
  fi
}

# train_on NAME NODES PER_NODE ALLREDUCE SAME_HOST: one run, launched through fake nodes.
train_on() {
  fake_launch "$2" "$3"
  run_bounded 180 "$work/out_$1" "${fake_mpirun[@]}" "$bin/nxt_ddp" \
    --config "$(tiny_config "$work" "$1")" "${args[@]}"
  [[ $code -eq 0 ]] || fail "$2 node(s) x $3 rank(s) exited $code"
  check_nodes_launched "$2"
  check_placement "$work/out_$1" 2 "$4" "$5"
}
train_on nodes 2 1 mpi no
train_on single 1 2 shm yes

diff_line=$(max_rel_diff "$work/runs/single/last.pt" "$work/runs/nodes/last.pt") ||
  fail "cannot compare the checkpoints"
read -r worst tensor <<<"$diff_line"
[[ $tensor != - ]] || tensor="bitwise equal"
echo "max relative parameter difference, 2 nodes x 1 vs 1 node x 2: $worst ($tensor)"
awk -v d="$worst" 'BEGIN { exit !(d <= 1e-5) }' || fail "parameters differ by $worst (> 1e-5) at $tensor"
echo "PASS: 2 nodes x 1 rank (allreduce=mpi) = 1 node x 2 ranks (allreduce=shm), max relative difference $worst ($tensor)"
