#!/usr/bin/env bash
# cluster/ on a real one-host Slurm (tests/slurm/local_slurm.sh): pack.sbatch, then train.sbatch
# with --dependency=afterok, 2 CPU ranks, GPU directives overridden; then a training job sent its
# stop signal early: it checkpoints, requeues itself, resumes from the checkpoint and completes.
# Fails (never skips) when Slurm cannot be started.
set -uo pipefail
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/local_slurm.sh"
launcher=${1:-srun}
start_local_slurm "$work/slurm" || fail "cannot start a local Slurm (see above)"
trap 'stop_local_slurm; [[ -n "${NXT_KEEP_WORK:-}" ]] || rm -rf "$work"' EXIT

job_field() { scontrol show job "$1" 2>/dev/null | grep -o "$2=[^ ]*" | head -1 | cut -d= -f2; }

# wait_for_job ID STATE SECONDS: polls until the job reaches STATE; fails on another final state.
wait_for_job() {
  local id=$1 want=$2 limit=$3 state i
  for ((i = 0; i < limit; i += 2)); do
    state=$(job_field "$id" JobState)
    [[ "$state" == "$want" ]] && return 0
    case "$state" in
      FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE)
        cat "$work"/*.out 2>/dev/null
        fail "job $id ended $state, expected $want" ;;
    esac
    sleep 2
  done
  scontrol show job "$id"; cat "$work"/*.out 2>/dev/null
  fail "job $id not $want after ${limit}s (state $state)"
}

"$bin/nxt_make_demo_images" --output "$work/images" --classes 3 --per-class 40 --size 32 --seed 3 \
  --easy >/dev/null || fail "make_demo_images"
config=$(tiny_config "$work" slurm)
cd "$repo_root"
cpu=(--nodes=1 --ntasks-per-node=2 --cpus-per-task=1 --gpus-per-node=0 --time=10
     --export="ALL,NXT_CONFIG=$config,NXT_LAUNCHER=$launcher")
cpu_set=(--set run.device=cpu --set dist.backend=mpi --set data.path="$work/data.h5")

# 1. pack -> train, chained with afterok.
pack=$(sbatch --parsable --cpus-per-task=2 --output="$work/pack-%j.out" cluster/pack.sbatch \
  "$work/images" "$work/data.h5" --size 32 --val-fraction 0.25 --seed 3) || fail "sbatch pack.sbatch"
train=$(sbatch --parsable --dependency="afterok:$pack" "${cpu[@]}" --output="$work/train-%j.out" \
  cluster/train.sbatch "${cpu_set[@]}" --set train.epochs=2) || fail "sbatch train.sbatch"
echo "submitted pack $pack, train $train (afterok:$pack)"
wait_for_job "$pack" COMPLETED 120
wait_for_job "$train" COMPLETED 240
cat "$work/train-$train.out"
run="$work/runs/nxt-train-$train"
for f in best.pt metrics.csv curves.png; do [[ -s "$run/$f" ]] || fail "$run/$f missing"; done
[[ $(wc -l <"$run/metrics.csv") -eq 3 ]] || fail "metrics.csv should have 2 epoch rows"
grep -q "2 rank(s)" "$work/train-$train.out" || fail "training did not run 2 ranks"

# 2. Preemption: the stop signal arrives mid-run; the job checkpoints, requeues and resumes.
long=$(sbatch --parsable "${cpu[@]}" --output="$work/long-%j.out" cluster/train.sbatch \
  "${cpu_set[@]}" --set train.epochs=6 --set train.checkpoint_every_steps=2) || fail "sbatch long"
run="$work/runs/nxt-train-$long"
for ((i = 0; i < 240; i++)); do  # until at least one epoch is done
  [[ $(wc -l <"$run/metrics.csv" 2>/dev/null || echo 0) -ge 2 ]] && break
  sleep 0.5
done
[[ -s "$run/metrics.csv" ]] || fail "the long job never finished an epoch"
scancel --signal=USR2 --batch "$long" || fail "scancel --signal"
echo "sent USR2 to job $long's batch shell"
# Slurm holds a requeued job for ~2 minutes (its begin time); once it is requeued, let it start
# now, as an idle cluster would have to wait for nothing else. The requeue itself is the job's.
for ((i = 0; i < 120; i++)); do
  [[ $(job_field "$long" Restarts) -ge 1 && $(job_field "$long" JobState) == PENDING ]] && break
  sleep 0.5
done
[[ $(job_field "$long" Restarts) -ge 1 ]] || { cat "$work/long-$long.out"; fail "job $long was not requeued"; }
# Not in the second of the requeue: slurmd refuses credentials issued then ("Job credential
# revoked"), which is what Slurm's own delay guards against.
sleep 3
scontrol update JobId="$long" StartTime=now || fail "scontrol update StartTime"
wait_for_job "$long" COMPLETED 300
out="$work/long-$long.out"
cat "$out"
grep -q "checkpointed (exit 75); requeueing" "$out" || fail "the job did not checkpoint and requeue"
grep -q "restart 1 " "$out" || fail "no restarted run (SLURM_RESTART_COUNT=1) in the log"
[[ $(job_field "$long" Restarts) -ge 1 ]] || fail "Slurm counts no restart"
# rank 0's log.txt in the run folder (appended by each start) shows the resume.
grep -q "resumed from .*last.pt: epoch" "$run/log.txt" || fail "the restarted job did not resume from last.pt"
rows=$(tail -n +2 "$run/metrics.csv" | cut -d, -f1 | tr '\n' ' ')
[[ "$rows" == "1 2 3 4 5 6 " ]] || fail "metrics.csv epochs after the requeue: $rows"

# 3. A job that fails for real is not requeued.
bad=$(sbatch --parsable "${cpu[@]}" --output="$work/bad-%j.out" cluster/train.sbatch \
  "${cpu_set[@]}" --set data.path="$work/missing.h5") || fail "sbatch bad"
wait_for_job "$bad" FAILED 120
[[ $(job_field "$bad" Restarts) -eq 0 ]] || fail "a failed job was requeued"
grep -q "nxt_ddp failed (exit 1); not requeued" "$work/bad-$bad.out" || { cat "$work/bad-$bad.out"; fail "no failure line"; }

# 4. cluster/submit: a sweep over two learning rates as a job array, and its logs command.
sweep_out=$(NXT_SBATCH_ARGS="${cpu[*]} --output=$work/sweep-%A_%a.out" cluster/submit sweep \
  optim.lr=0.01,0.002 "${cpu_set[@]}" --set train.epochs=1) || fail "cluster/submit sweep"
echo "$sweep_out"
array=$(grep -m1 -o 'array task [0-9]*' <<<"$sweep_out" | grep -o '[0-9]*$')
wait_for_job "${array}_0" COMPLETED 180
wait_for_job "${array}_1" COMPLETED 180
for i in 0 1; do
  lr=$(grep -A3 '^optim:' "$work/runs/nxt-train-$array-$i/config.yaml" | grep -o 'lr: .*')
  [[ "$lr" == "lr: $([[ $i == 0 ]] && echo 0.01 || echo 0.002)" ]] || fail "array task $i trained with $lr"
done
cluster/submit logs "${array}_1" | tee "$work/logs.txt"
grep -q "JobState=COMPLETED" "$work/logs.txt" && grep -q "training finished" "$work/logs.txt" ||
  fail "cluster/submit logs"
echo "PASS ($launcher): pack -> train chained; preempted job checkpointed, requeued, resumed, completed; failed job not requeued; sweep array"
