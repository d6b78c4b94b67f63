#!/usr/bin/env bash
# cluster/train.sbatch loses a node and goes on in the same allocation (docs/cluster.md, "Lost
# nodes"), on a real Slurm of 3 nodes (three slurmd on this host: tests/slurm/local_slurm.sh),
# with the launcher given as the argument (srun or mpirun):
#   1. 2 nodes x 1 rank: once training runs, node 2 is taken down (scontrol update
#      state=down, which kills the job's processes there; --no-kill keeps the allocation). The
#      batch script must find nxtnode2 lost (its probe fails), start the step again on nxtnode1
#      alone, which resumes from an in-memory snapshot on 1 rank, and the job must end
#      COMPLETED, with no requeue.
#   2. The same with NXT_SPARE_NODES=1 on 3 nodes: nxtnode3 takes nxtnode2's place and the
#      step starts again on 2 ranks (nxtnode1, nxtnode3).
# Fails (never skips) when Slurm cannot be started. About 1-2 minutes on 2 cores.
set -uo pipefail
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/local_slurm.sh"
launcher=${1:-srun}
[[ "$launcher" == srun || "$launcher" == mpirun ]] || fail "usage: test_lost_node.sh srun|mpirun"
start_local_slurm "$work/slurm" 1 3 || fail "cannot start a 3-node local Slurm (see above)"
trap 'stop_local_slurm; rm -rf "$work"' EXIT
make_tiny_dataset "$work" 80
config=$(tiny_config "$work" slurm_lost)
cd "$repo_root"
sets=(--set run.device=cpu --set dist.backend=mpi --set run.threads_per_rank=1 --set train.epochs=3
      --set train.snapshot_every_steps=2 --set dist.timeout_s=10)
exports="ALL,NXT_CONFIG=$config,NXT_LAUNCHER=$launcher,NXT_PROBE_TIMEOUT_S=10,NXT_CPU_BIND=none"
exports+=",NXT_SLOW_COMPUTE_RANK=0,NXT_SLOW_RANK_MS=100"  # so that node 2 goes down mid-run

# lose_node2 NODES [EXPORTS]: submits a job of NODES x 1 rank and takes node 2 down once rank 0
# has logged step progress. Sets job_id.
lose_node2() {
  local nodes=$1 more=${2:-} out
  job_id=$(sbatch --parsable --nodes="$nodes" --ntasks-per-node=1 --cpus-per-task=1 \
    --gpus-per-node=0 --time=10 --export="$exports$more" --output="$work/lost-%j.out" \
    cluster/train.sbatch "${sets[@]}") || fail "sbatch train.sbatch on $nodes nodes"
  out="$work/lost-$job_id.out"
  training() { grep -q "epoch 1 \[.*\] [1-9][0-9]*/" "$out"; }
  wait_for 120 training || { cat "$out"; fail "job $job_id: no training progress within 120 s"; }
  sleep 1  # a snapshot of step >= 2 is written by now (100 ms a step)
  scontrol update nodename=nxtnode2 state=down reason=nxt-test || fail "cannot take nxtnode2 down"
  echo "job $job_id: nxtnode2 taken down at $(date -Is)"
}

# expect_recovered ID RANKS HOSTS: job ID completed without a requeue, its step started again
# on HOSTS with RANKS rank(s), from an in-memory snapshot, naming nxtnode2 as lost.
expect_recovered() {
  local id=$1 ranks=$2 hosts=$3 out="$work/lost-$1.out"
  wait_for_job "$id" COMPLETED 240
  scontrol update nodename=nxtnode2 state=resume >/dev/null 2>&1
  [[ $(job_field "$id" Restarts) -eq 0 ]] || fail "job $id was requeued"
  grep -q "nxt: restart 1 of 2 on .*: $hosts; lost: nxtnode2 " "$out" ||
    { cat "$out"; fail "job $id: the step was not started again on $hosts without nxtnode2"; }
  grep -q "nxt_ddp: $ranks rank(s)" "$out" || { cat "$out"; fail "job $id: the second start had not $ranks rank(s)"; }
  grep -q "recovery: .* resumed at step [0-9]* from .*step-.*lost node(s): nxtnode2; restart 1" "$out" ||
    { cat "$out"; fail "job $id: no recovery from an in-memory snapshot naming nxtnode2"; }
  grep -q "train.sbatch: training finished" "$out" || { cat "$out"; fail "job $id did not finish"; }
  echo "ok ($launcher): job $id lost nxtnode2, went on on $hosts: $(grep -o "recovery: .*" "$out" | head -1)"
}

lose_node2 2
expect_recovered "$job_id" 1 "nxtnode1"
for _ in $(seq 1 30); do [[ $(sinfo -h -N -n nxtnode2 -o %t) == idle ]] && break; sleep 1; done
lose_node2 3 ",NXT_SPARE_NODES=1"
grep -q "spare node(s) nxtnode3 stay idle" "$work/lost-$job_id.out" || fail "nxtnode3 was not kept as a spare"
expect_recovered "$job_id" 2 "nxtnode1 nxtnode3"
echo "PASS ($launcher): a lost node cost a restart in the allocation, not a requeue, with and without a spare"
