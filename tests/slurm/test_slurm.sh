#!/usr/bin/env bash
# cluster/ on a real one-host Slurm (tests/slurm/local_slurm.sh, CPU binding by task/affinity),
# with train.sbatch's launcher given as the argument (srun or mpirun):
#
#   1. pack.sbatch, then train.sbatch with --dependency=afterok: 1 rank asking for 2 CPUs, with
#      NXT_STAGE_DATA=1. The rank's own placement line must show 2 CPUs and 2 compute threads
#      (since Slurm 22.05, srun without --cpus-per-task binds each rank to one core), the run must
#      read the staged copy, and the copy must be gone afterwards. The same with data.shard_by
#      node (2 ranks): the node's share is copied by nxt_ddp into the stage folder.
#      1c. cluster/preflight.sbatch (2 ranks, rank 1 slowed by its test hook): the node named,
#      every rank and the job exit 3.
#   2. A job that fails for real (missing dataset) ends FAILED and is not requeued (its step is
#      started again twice first); one whose rank 1 is killed with SIGKILL has its step started
#      again in the same allocation, resumes from an in-memory snapshot and completes; under srun,
#      a rank failing alone (MPI_Abort) ends its step although srun runs with --kill-on-bad-exit=0.
#   3. cluster/submit sweep (a job array of 2 ranks x 1 CPU each: their CPU lists must differ)
#      and cluster/submit logs.
#   4. Preemption, 3 times in a row, with 8 ranks (on a second Slurm whose node declares 8 CPUs):
#      each stop signal must make the job checkpoint and requeue itself (decided by rank 0's
#      exit-status file, whatever the launcher reports for the 8 exits); the job resumes each
#      time and completes with every epoch (8) in metrics.csv exactly once.
# Fails (never skips) when Slurm cannot be started. About 2-3 minutes on 2 cores.
set -uo pipefail
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/local_slurm.sh"
launcher=${1:-srun}
[[ "$launcher" == srun || "$launcher" == mpirun ]] || fail "usage: test_slurm.sh srun|mpirun"
start_local_slurm "$work/slurm" || fail "cannot start a local Slurm (see above)"
trap 'stop_local_slurm; [[ -n "${NXT_KEEP_WORK:-}" ]] || rm -rf "$work"' EXIT

# placement_field LOG RANK FIELD: FIELD of rank RANK's last placement line in LOG.
placement_field() {
  grep "placement: rank=$2 " "$1" | tail -1 | grep -o " $3=[^ ]*" | cut -d= -f2
}

"$bin/nxt_make_demo_images" --output "$work/images" --classes 3 --per-class 40 --size 32 --seed 3 \
  --easy >/dev/null || fail "make_demo_images"
config=$(tiny_config "$work" slurm)
cd "$repo_root"
exports="ALL,NXT_CONFIG=$config,NXT_LAUNCHER=$launcher"
cpu_job=(--nodes=1 --gpus-per-node=0 --time=10 --export="$exports")
two_ranks=(--ntasks-per-node=2 --cpus-per-task=1)
cpu_set=(--set run.device=cpu --set dist.backend=mpi --set data.path="$work/data.h5")

# 1. pack -> train (afterok); 1 rank x 2 CPUs; the dataset staged to node-local storage.
mkdir -p "$work/node-local"
pack=$(sbatch --parsable --cpus-per-task=2 --output="$work/pack-%j.out" cluster/pack.sbatch \
  "$work/images" "$work/data.h5" --size 32 --val-fraction 0.25 --seed 3) || fail "sbatch pack.sbatch"
train=$(sbatch --parsable --dependency="afterok:$pack" --nodes=1 --gpus-per-node=0 --time=10 \
  --ntasks-per-node=1 --cpus-per-task=2 --export="$exports,NXT_STAGE_DATA=1,TMPDIR=$work/node-local" \
  --output="$work/train-%j.out" cluster/train.sbatch "${cpu_set[@]}" --set train.epochs=2) ||
  fail "sbatch train.sbatch"
echo "submitted pack $pack, train $train (afterok:$pack)"
wait_for_job "$pack" COMPLETED 120
wait_for_job "$train" COMPLETED 180
out="$work/train-$train.out"
cat "$out"
run="$work/runs/nxt-train-$train"
for f in best.pt metrics.csv curves.png; do [[ -s "$run/$f" ]] || fail "$run/$f missing"; done
[[ $(wc -l <"$run/metrics.csv") -eq 3 ]] || fail "metrics.csv should have 2 epoch rows"
grep -q "1 rank(s) x 2 CPU(s)" "$out" || fail "training did not run 1 rank x 2 CPUs"
cpus=$(placement_field "$out" 0 cpus) threads=$(placement_field "$out" 0 compute_threads)
[[ "$cpus" == 2 && "$threads" == 2 ]] ||
  fail "the rank asked for 2 CPUs but its placement line says cpus=$cpus compute_threads=$threads"
echo "affinity seen by the rank: cpus=$cpus cpu_list=$(placement_field "$out" 0 cpu_list) compute_threads=$threads"
staged="$work/node-local/nxt-stage-$train/data.h5"
grep -q "staged $work/data.h5 ([0-9]* bytes) to $staged" "$out" || fail "no staging line for $staged"
grep -A3 '^data:' "$run/config.yaml" | grep -q "path: $staged" || fail "the run did not read the staged copy"
[[ ! -e "$work/node-local/nxt-stage-$train" ]] || fail "the staged copy was not removed"

# 1b. NXT_STAGE_DATA=1 with data.shard_by node: train.sbatch copies nothing itself but points
# data.stage_dir at the node-local folder, where the node's first rank writes the node's share
# (here 1 node x 2 ranks: all 90 training images) and both ranks map it; the folder is gone
# afterwards.
shares=$(sbatch --parsable "${cpu_job[@]}" "${two_ranks[@]}" \
  --export="$exports,NXT_STAGE_DATA=1,TMPDIR=$work/node-local" --output="$work/shares-%j.out" \
  cluster/train.sbatch "${cpu_set[@]}" --set train.epochs=1 --set data.shard_by=node) ||
  fail "sbatch shard_by node"
wait_for_job "$shares" COMPLETED 180
out="$work/shares-$shares.out"
stage="$work/node-local/nxt-stage-$shares"
grep -q "data.shard_by node: each node stages its own share of $work/data.h5 in $stage" "$out" ||
  { cat "$out"; fail "shard_by node: no staging line for $stage"; }
! grep -q "train.sbatch: staged " "$out" || fail "shard_by node: the whole file was staged"
grep -qE "node copy of node 0 \([^)]*\): train split, node share of deal 0: 90 images, .* in $stage/nxt-copy-" \
  "$out" || { cat "$out"; fail "shard_by node: the node's share was not copied to $stage"; }
grep -q "stage_dir: $stage" "$work/runs/nxt-train-$shares/config.yaml" ||
  fail "shard_by node: the run's data.stage_dir is not $stage"
[[ ! -e "$stage" ]] || fail "shard_by node: the stage folder $stage was not removed"
echo "ok: NXT_STAGE_DATA=1 with shard_by node staged the node's share (90 images) in $stage"

# 1c. cluster/preflight.sbatch through the same launcher, 2 ranks x 1 CPU, rank 1 slowed
# (NXT_SLOW_PREFLIGHT_RANK: its measurements take 4x as long, so the verdict does not depend on
# this machine's noise): one row for the node with ranks 0-1, the node named below 80% of the
# median for compute, every rank exiting 3, and the job FAILED with exit code 3 (so an afterok
# dependency on it would not start).
pre=$(sbatch --parsable "${cpu_job[@]}" "${two_ranks[@]}" \
  --export="$exports,NXT_SLOW_PREFLIGHT_RANK=1,NXT_PREFLIGHT_SECONDS=1" \
  --output="$work/preflight-%j.out" cluster/preflight.sbatch "${cpu_set[@]}") ||
  fail "sbatch preflight.sbatch"
wait_for_job "$pre" FAILED 120
out="$work/preflight-$pre.out"
[[ $(job_field "$pre" ExitCode) == 3:0 ]] ||
  { cat "$out"; fail "preflight job $pre: exit code $(job_field "$pre" ExitCode), not 3:0"; }
grep -qE "^0 +$(hostname) +0-1 " "$out" || { cat "$out"; fail "preflight: no row for ranks 0-1"; }
grep -qE "below 80% of the median: $(hostname) \(node 0\) compute: " "$out" ||
  { cat "$out"; fail "preflight: the slowed node was not named for compute"; }
for r in 0 1; do
  grep -q "preflight: rank $r exits with status 3" "$out" || { cat "$out"; fail "rank $r: no exit 3"; }
done
grep -q "preflight.sbatch: some nodes or links are below 80% of the median" "$out" ||
  { cat "$out"; fail "preflight.sbatch: no verdict line"; }
[[ -s "$work/runs/nxt-preflight-$pre/preflight.json" ]] || fail "no preflight.json for job $pre"
echo "ok: preflight.sbatch under $launcher named the slowed node and ended FAILED (exit 3)"

# 2. A job that fails for real is not requeued ...
bad=$(sbatch --parsable "${cpu_job[@]}" "${two_ranks[@]}" --output="$work/bad-%j.out" cluster/train.sbatch \
  "${cpu_set[@]}" --set data.path="$work/missing.h5") || fail "sbatch bad"
wait_for_job "$bad" FAILED 120
[[ $(job_field "$bad" Restarts) -eq 0 ]] || fail "a failed job was requeued"
# Every rank fails on the missing file; whichever aborts first may take rank 0 down before it
# writes its exit status, so either failure line is right.
grep -qE "nxt_ddp failed (\(exit 1\)|: rank 0 left no exit status).*not requeued" "$work/bad-$bad.out" ||
  { cat "$work/bad-$bad.out"; fail "no failure line"; }
# A job one of whose ranks is killed outright (SIGKILL, as by the OOM killer, or with its node)
# has its step started again in the same allocation, without a requeue, from the newest
# in-memory snapshot (Note [In-memory snapshots]), and completes; the other rank is not left
# waiting for the dead one.
# (Rank 0 sleeps 100 ms a step, and rank 1 dies once a snapshot of steps 14-22 exists: in
# the middle of epoch 2 of 12 steps, so that the snapshot, not the epoch's last.pt, is newest.)
killed=$(sbatch --parsable --nodes=1 --gpus-per-node=0 --time=10 "${two_ranks[@]}" \
  --export="$exports,NXT_SLOW_COMPUTE_RANK=0,NXT_SLOW_RANK_MS=100" --output="$work/killed-%j.out" \
  cluster/train.sbatch "${cpu_set[@]}" --set train.epochs=3 --set train.snapshot_every_steps=2) ||
  fail "sbatch killed"
mid_epoch_snapshot() {
  compgen -G "$work/snapshots/nxt-snapshots-*/nxt-train-$killed-*/*/step-*.pt" |
    grep -qE "/step-0000000000(1[4-9]|2[0-2])-"
}
wait_for 120 mid_epoch_snapshot || { cat "$work/killed-$killed.out"; fail "no snapshot of steps 14-22"; }
victim=""
for pid in $(pgrep -f "nxt_ddp .*run.name=nxt-train-$killed( |$)"); do
  # srun's PMIx and mpirun both name the rank; either variable may be the one set.
  tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null |
    grep -qxE '(PMIX_RANK|OMPI_COMM_WORLD_RANK)=1' && victim=$pid
done
[[ -n "$victim" ]] || { cat "$work/killed-$killed.out"; fail "rank 1 of job $killed not found"; }
kill -9 "$victim"
echo "killed rank 1 (pid $victim) of job $killed"
wait_for_job "$killed" COMPLETED 240
out="$work/killed-$killed.out"
[[ $(job_field "$killed" Restarts) -eq 0 ]] || fail "the job with a killed rank was requeued"
grep -q "nxt: restart 1 of 2 on 1 host(s)" "$out" || { cat "$out"; fail "the step was not started again"; }
grep -q "recovery: the job had reached step [0-9]* when it failed; resumed at step [0-9]* from .*step-" \
  "$out" || { cat "$out"; fail "the second start did not resume from an in-memory snapshot"; }
[[ -z $(compgen -G "/dev/shm/nxt-snapshots-$(id -u)/nxt-train-$killed-*") ]] ||
  fail "job $killed left its snapshots in /dev/shm"
echo "ok: a killed rank's step was started again in the allocation and resumed from a snapshot:" \
  "$(grep -o "recovery: .*" "$out" | head -1)"
# ... and one rank calling MPI_Abort ends an srun step without --kill-on-bad-exit.
if [[ "$launcher" == srun ]]; then
  run_bounded 90 "$work/abort.txt" srun --mpi=pmix --kill-on-bad-exit=0 --ntasks=2 --cpus-per-task=1 \
    --cpu-bind=cores "$bin/nxt_mpi_tests" --throw-in-backward-on-rank=1
  expect_clean_failure 45
fi

# 3. cluster/submit: a sweep over two learning rates as a job array, and its logs command.
sweep_out=$(NXT_SBATCH_ARGS="${cpu_job[*]} ${two_ranks[*]} --output=$work/sweep-%A_%a.out" \
  cluster/submit sweep optim.lr=0.01,0.002 "${cpu_set[@]}" --set train.epochs=1) || fail "cluster/submit sweep"
echo "$sweep_out"
array=$(grep -m1 -o 'array task [0-9]*' <<<"$sweep_out" | grep -o '[0-9]*$')
wait_for_job "${array}_0" COMPLETED 180
wait_for_job "${array}_1" COMPLETED 180
for i in 0 1; do
  lr=$(grep -A3 '^optim:' "$work/runs/nxt-train-$array-$i/config.yaml" | grep -o 'lr: .*')
  [[ "$lr" == "lr: $([[ $i == 0 ]] && echo 0.01 || echo 0.002)" ]] || fail "array task $i trained with $lr"
done
out="$work/sweep-${array}_0.out"
lists="$(placement_field "$out" 0 cpu_list) $(placement_field "$out" 1 cpu_list)"
echo "2 ranks x 1 CPU: cpu_list $lists"
[[ $(placement_field "$out" 0 cpus) == 1 && $(placement_field "$out" 1 cpus) == 1 && "${lists% *}" != "${lists#* }" ]] ||
  { cat "$out"; fail "2 ranks x 1 CPU were not bound to one CPU each ($lists)"; }
cluster/submit logs "${array}_1" | tee "$work/logs.txt"
grep -q "JobState=COMPLETED" "$work/logs.txt" && grep -q "training finished" "$work/logs.txt" ||
  fail "cluster/submit logs"
# 4. Preemption, 3 times, 8 ranks: every stop signal checkpoints and requeues the job. On a
# Slurm whose node declares 8 CPUs (more than this machine has; Slurm refuses 8 tasks per node
# on fewer), so the job runs unbound (NXT_CPU_BIND=none: Slurm cannot lay out 8 cores on 2).
# Its own run folder root: job ids start again in the new Slurm.
stop_local_slurm
start_local_slurm "$work/slurm8" 8 || fail "cannot start a local Slurm with 8 CPUs (see above)"
ranks=8 tries=3
long=$(sbatch --parsable --nodes=1 --gpus-per-node=0 --time=10 --export="$exports,NXT_CPU_BIND=none" \
  --ntasks-per-node="$ranks" --cpus-per-task=1 --output="$work/long-%j.out" cluster/train.sbatch \
  "${cpu_set[@]}" --set run.out_dir="$work/runs-preempted" --set train.epochs=8 \
  --set train.checkpoint_every_steps=2) || fail "sbatch long"
out="$work/long-$long.out"
run="$work/runs-preempted/nxt-train-$long"
for ((try = 1; try <= tries; try++)); do
  # Signal once all ranks of this start are up: their stop handlers are installed before their
  # placement line. (An epoch takes well under a second here, so not later: the signal must
  # find the job still training; 8 epochs leave it several seconds.)
  for ((i = 0; i < 240; i++)); do
    [[ $(grep -c "placement: rank=" "$out" 2>/dev/null) -ge $((ranks * try)) ]] && break
    sleep 0.5
  done
  [[ $(grep -c "placement: rank=" "$out") -ge $((ranks * try)) ]] || { cat "$out"; fail "start $try: the $ranks ranks did not come up"; }
  sleep 0.5
  scancel --signal=USR2 --batch "$long" || fail "scancel --signal"
  echo "try $try: sent USR2 to job $long's batch shell"
  # Slurm holds a requeued job for ~2 minutes (its begin time); once it is requeued, let it
  # start now, as an idle cluster would have to wait for nothing else. The requeue is the job's.
  for ((i = 0; i < 120; i++)); do
    [[ $(job_field "$long" Restarts) -ge $try && $(job_field "$long" JobState) == PENDING ]] && break
    sleep 0.5
  done
  [[ $(job_field "$long" Restarts) -ge $try ]] || { cat "$out"; fail "try $try: job $long was not requeued"; }
  # Not in the second of the requeue: slurmd refuses credentials issued then ("Job credential
  # revoked"), which is what Slurm's own delay guards against.
  sleep 3
  scontrol update JobId="$long" StartTime=now || fail "scontrol update StartTime"
done
wait_for_job "$long" COMPLETED 240
cat "$out"
requeues=$(grep -c "checkpointed (exit 75); requeueing" "$out")
echo "requeued $requeues of $tries tries with $ranks ranks; the launcher's exit codes:" \
  $(grep -o "step exit [0-9]*, rank 0 exit status [0-9a-z]*" "$out" | cut -d' ' -f3 | tr -d ,)
[[ $requeues -eq $tries ]] || fail "requeued $requeues times for $tries stop signals"
[[ $(job_field "$long" Restarts) -eq $tries ]] || fail "Slurm counts $(job_field "$long" Restarts) restarts"
grep -q "restart $tries " "$out" || fail "no run with SLURM_RESTART_COUNT=$tries in the log"
# rank 0's log.txt in the run folder (appended by each start) shows each resume.
[[ $(grep -c "resumed from .*last.pt: epoch" "$run/log.txt") -eq $tries ]] || fail "not every start resumed from last.pt"
rows=$(tail -n +2 "$run/metrics.csv" | cut -d, -f1 | tr '\n' ' ')
[[ "$rows" == "$(seq -s ' ' 1 8) " ]] || fail "metrics.csv epochs after the requeues: $rows"


echo "PASS ($launcher): 2 CPUs per task seen by the rank; staged data; $requeues/$tries requeues with" \
  "$ranks ranks, resumed, completed; failed job not requeued; sweep array bound 1 CPU per rank"
