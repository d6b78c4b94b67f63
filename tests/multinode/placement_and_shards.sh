#!/usr/bin/env bash
# 2 fake nodes x 2 ranks: node-local ranks and exact sharding across nodes.
#  - nxt_shard_check (tests/mpi/shard_check.cpp) under the 2x2 launch: each of the 4 ranks reads
#    exactly its shard, with the file's labels and pixels, and together they cover both splits;
#  - nxt_ddp under the same launch: every rank's placement line says world=4, ranks 0,1 on the
#    first node as local_rank 0,1 of local_size 2, ranks 2,3 on the second node as local_rank
#    0,1 of 2, different host names on the two nodes (the fake nodes' own names), and
#    allreduce=mpi everywhere (the job spans nodes, so no rank may take the shared-memory path);
#    and rank 3, slowed in its loader (NXT_SLOW_DATA_RANK), is named by rank 0's straggler
#    report with the second node's host name and phase data;
#  - a check of the harness itself: with Open MPI's shared-memory transport only (no TCP), the
#    same launch must fail, unreachable, so the fake nodes really share no memory path.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
require_fake_nodes
[[ -x "$bin/nxt_shard_check" ]] || fail "no $bin/nxt_shard_check (build first)"
make_tiny_dataset "$work"

fake_launch 2 2
run_bounded 90 "$work/out_shards" "${fake_mpirun[@]}" "$bin/nxt_shard_check" "$work/data.h5"
[[ $code -eq 0 ]] || fail "nxt_shard_check exited $code under 2 nodes x 2 ranks"
check_nodes_launched 2
grep -q "shard check passed: 4 ranks" "$work/out_shards" || fail "no 'shard check passed: 4 ranks'"

fake_launch 2 2
run_bounded 60 "$work/out_no_tcp" "${fake_mpirun[@]/#self,vader,tcp/self,vader}" \
  "$bin/nxt_shard_check" "$work/data.h5"
[[ $code -ne 0 && $code -ne 124 ]] || fail "the fake nodes reached each other without TCP (exit $code)"
grep -qi "unreachable" "$work/out_no_tcp" || fail "no 'unreachable' from Open MPI without TCP"

fake_launch 2 2
NXT_SLOW_DATA_RANK=3 NXT_SLOW_RANK_MS=150 run_bounded 180 "$work/out_ddp" "${fake_mpirun[@]}" \
  "$bin/nxt_ddp" --config "$(tiny_config "$work" placement)" --set run.threads_per_rank=1 \
  --set train.epochs=1 --set train.log_every_seconds=1
[[ $code -eq 0 ]] || fail "nxt_ddp exited $code under 2 nodes x 2 ranks"
check_nodes_launched 2
[[ $(placement_lines "$work/out_ddp" | wc -l) -eq 4 ]] ||
  fail "expected 4 placement lines, got: $(placement_lines "$work/out_ddp")"
for rank in 0 1 2 3; do
  node=$(( rank / 2 + 1 ))
  line=$(placement_lines "$work/out_ddp" | grep "^placement: rank=$rank ")
  for expect in "world=4" "host=$(node_name $node)" "local_rank=$(( rank % 2 ))" "local_size=2" \
                "allreduce=mpi"; do
    [[ " $line " == *" $expect "* ]] || fail "rank $rank: expected $expect in: $line"
  done
  echo "rank $rank: $line"
done
[[ $(placement_field "$work/out_ddp" 0 host) != "$(placement_field "$work/out_ddp" 2 host)" ]] ||
  fail "both nodes report the same host name"
# Rank 3 (the second rank of the second node) was slowed in its loader: rank 0's straggler
# report names it with the host it runs on, the other node's.
grep -q "straggler report (steps .*slowest rank 3 ($(node_name 2)) is .*slow phase: data" "$work/out_ddp" ||
  { grep "straggler report" "$work/out_ddp"; fail "no straggler report naming rank 3 on $(node_name 2), phase data"; }
echo "PASS: 2 nodes x 2 ranks: exact shards, local ranks 0,1 of 2 on $(node_name 1) and $(node_name 2), allreduce=mpi"
