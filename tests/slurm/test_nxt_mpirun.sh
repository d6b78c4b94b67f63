#!/usr/bin/env bash
# launch/nxt_mpirun sizes the job to what the process may use, not to the whole machine:
#   - CPUs: the affinity mask (taskset here) and, inside a Slurm job, the job's CPUs on the node;
#   - GPUs: CUDA_VISIBLE_DEVICES (empty: none; a list: its length), else Slurm's GPU count, else
#     nvidia-smi -L (a fake one listing 8 GPUs stands in for a GPU node);
#   - binding: within a narrowed mask each rank is bound inside the mask (Open MPI's own binding
#     would use the machine's first cores);
#   - the environment list of launch/forward_env.sh is what it passes with -x.
# Counts are read from --dry-run lines; bindings from inside real ranks. The last part runs it
# in a job of a one-host Slurm (tests/slurm/local_slurm.sh) and fails if Slurm cannot start.
set -uo pipefail
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/local_slurm.sh"
cores=$(lscpu -p=CORE,SOCKET | grep -v '^#' | sort -u | wc -l)
last_cpu=$(( $(getconf _NPROCESSORS_ONLN) - 1 ))

# ranks_of [PREFIX...]: the -np of the line nxt_mpirun would run under PREFIX (env, taskset).
ranks_of() { "$@" "$nxt_mpirun" --dry-run true 2>&1 | grep -o '^+ mpirun -np [0-9]*' | grep -o '[0-9]*$'; }
expect_ranks() {
  local want=$1 got
  shift
  got=$(ranks_of "$@")
  [[ "$got" == "$want" ]] || fail "expected $want rank(s), got '$got' under: $*"
}
# Each rank prints its rank and CPU list.
show_affinity=(bash -c 'echo "rank $OMPI_COMM_WORLD_RANK cpus $(awk "/^Cpus_allowed_list/ {print \$2}" /proc/self/status)"')

# CPUs (no GPU: CUDA_VISIBLE_DEVICES empty): the whole machine gives 2 ranks (>= 2 cores);
# a mask of one CPU gives 1; OMP_NUM_THREADS=1 is a thread count, not an allocation.
(( cores >= 2 )) || fail "this test needs a machine with at least 2 cores"
expect_ranks 2 env CUDA_VISIBLE_DEVICES=
expect_ranks 1 env CUDA_VISIBLE_DEVICES= taskset -c "$last_cpu"
expect_ranks 2 env CUDA_VISIBLE_DEVICES= OMP_NUM_THREADS=1
# Slurm's CPU count bounds the cores (under task/none the mask stays the whole machine).
line=$(env CUDA_VISIBLE_DEVICES= SLURM_JOB_ID=1 SLURM_CPUS_ON_NODE=1 "$nxt_mpirun" --dry-run true 2>&1)
grep -q "^nxt_mpirun: 1 core(s) (Slurm job 1: 1 CPUs on this node)" <<<"$line" || fail "Slurm CPUs ignored: $line"

# Binding inside a narrowed mask: the only rank runs on the mask's CPU, not on CPU 0.
CUDA_VISIBLE_DEVICES='' taskset -c "$last_cpu" "$nxt_mpirun" "${show_affinity[@]}" >"$work/bound.txt" 2>&1
cat "$work/bound.txt"
grep -qx "rank 0 cpus $last_cpu" "$work/bound.txt" || fail "the rank left the mask (CPU $last_cpu)"

# GPUs: a fake nvidia-smi with 8 GPUs; CUDA_VISIBLE_DEVICES narrows or empties the list.
mkdir -p "$work/fake-bin"
cat >"$work/fake-bin/nvidia-smi" <<'SMI'
#!/bin/sh
for i in 0 1 2 3 4 5 6 7; do echo "GPU $i: NVIDIA H200 (UUID: GPU-fake-$i)"; done
SMI
chmod +x "$work/fake-bin/nvidia-smi"
gpu_path="$work/fake-bin:$PATH"
expect_ranks 8 env -u CUDA_VISIBLE_DEVICES PATH="$gpu_path"
expect_ranks 3 env PATH="$gpu_path" CUDA_VISIBLE_DEVICES=0,3,5
expect_ranks 2 env PATH="$gpu_path" CUDA_VISIBLE_DEVICES=      # no GPU: the CPU default
expect_ranks 2 env PATH="$gpu_path" CUDA_VISIBLE_DEVICES=NoDevFiles  # Slurm's "no GPU" value
expect_ranks 4 env -u CUDA_VISIBLE_DEVICES PATH="$gpu_path" SLURM_JOB_ID=1 SLURM_GPUS_ON_NODE=4
[[ $(PATH="$gpu_path" "$nxt_mpirun" -np 5 --dry-run true 2>&1 | grep -o '^+ mpirun -np [0-9]*') == "+ mpirun -np 5" ]] ||
  fail "-np must win"

# Forwarded environment: the names of launch/forward_env.sh, and not CUDA_VISIBLE_DEVICES.
line=$(env NCCL_DEBUG=INFO NXT_OUT_DIR=/x SCRATCH=/s OMP_NUM_THREADS=1 CUDA_VISIBLE_DEVICES= \
  "$nxt_mpirun" --dry-run true 2>&1 | grep '^+ mpirun')
for name in NCCL_DEBUG NXT_OUT_DIR SCRATCH OMP_NUM_THREADS; do
  grep -q -- "-x $name " <<<"$line" || fail "$name is not forwarded: $line"
done
! grep -q -- "-x CUDA_VISIBLE_DEVICES" <<<"$line" || fail "CUDA_VISIBLE_DEVICES must not be forwarded"

# Inside Slurm jobs (task/affinity binds the batch shell to the job's CPUs): 1 CPU gives 1 rank
# on that CPU; 2 CPUs give 2 ranks, one CPU each.
start_local_slurm "$work/slurm" || fail "cannot start a local Slurm (see above)"
trap 'stop_local_slurm; rm -rf "$work"' EXIT
for cpus in 1 2; do
  out="$work/job-$cpus.out"
  job=$(sbatch --parsable --ntasks=1 --cpus-per-task="$cpus" --output="$out" \
    --export="ALL,CUDA_VISIBLE_DEVICES=" --wrap "$(printf '%q ' "$nxt_mpirun" "${show_affinity[@]}")") ||
    fail "sbatch"
  for ((i = 0; i < 60; i++)); do
    [[ $(scontrol show job "$job" | grep -o 'JobState=[A-Z]*') == JobState=COMPLETED ]] && break
    sleep 1
  done
  cat "$out"
  mask=$(grep -o 'affinity mask [0-9,-]*' "$out" | cut -d' ' -f3)
  mapfile -t rank_cpus < <(grep '^rank ' "$out" | sort | cut -d' ' -f4)
  if [[ $cpus == 1 ]]; then
    [[ ${#rank_cpus[@]} == 1 && "${rank_cpus[0]}" == "$mask" ]] ||
      fail "1 CPU ($mask): expected 1 rank on it, got ${rank_cpus[*]}"
  else
    [[ ${#rank_cpus[@]} == 2 && "${rank_cpus[0]}" != "${rank_cpus[1]}" && "${rank_cpus[0]}" != *[,-]* ]] ||
      fail "2 CPUs ($mask): expected 2 ranks on one CPU each, got ${rank_cpus[*]}"
  fi
done
echo "PASS: nxt_mpirun counts the affinity mask, Slurm's CPUs and GPUs, and CUDA_VISIBLE_DEVICES"
