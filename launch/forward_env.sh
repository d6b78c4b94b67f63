# shellcheck shell=bash
# The environment variables that every nxt rank must see, in one place (sourced by
# launch/nxt_mpirun and cluster/train.sbatch).
#
# mpirun starts the ranks of other nodes through its own daemons, which pass on only the
# variables named with -x; srun passes the whole environment (--export=ALL, its default). So the
# list matters for mpirun, and keeping it here means both launchers forward the same set:
#
#   NCCL_*            NCCL's own settings (interfaces, adapters, debug output, P2P level)
#   OMP_NUM_THREADS   caps each rank's compute threads (run.threads_per_rank: auto)
#   NXT_*             nxt's variables (NXT_OUT_DIR, NXT_EXIT_STATUS_FILE, ...)
#   ONEDNN_*          oneDNN's settings (ONEDNN_MAX_CPU_ISA, ONEDNN_VERBOSE; Note [oneDNN
#                     without cache sizes] in src/common/process_tuning.h)
#   SCRATCH           the default run folder is $SCRATCH/nxt-runs when it is set
#   LD_LIBRARY_PATH   libraries found through environment modules (CUDA, NCCL, MPI)
#
# Not forwarded on purpose: CUDA_VISIBLE_DEVICES, TMPDIR and the SLURM_* variables describe
# one node or one step and are set on each node by Slurm itself.
#
#   nxt_forward_env_names   the names of the forwarded variables that are set, one per line
#   nxt_forward_env_args    the same as mpirun flags: -x NAME -x NAME ...

nxt_forward_env_pattern='^(NCCL_[A-Za-z0-9_]*|OMP_NUM_THREADS|NXT_[A-Za-z0-9_]*|ONEDNN_[A-Za-z0-9_]*|SCRATCH|LD_LIBRARY_PATH)$'

nxt_forward_env_names() {
  compgen -e | grep -E "$nxt_forward_env_pattern" || true
}

nxt_forward_env_args() {
  local name
  for name in $(nxt_forward_env_names); do printf -- '-x\n%s\n' "$name"; done
}
