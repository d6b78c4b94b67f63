# shellcheck shell=bash
# What every nxt job step under Slurm shares (sourced by cluster/train.sbatch and
# cluster/preflight.sbatch, after launch/forward_env.sh): NCCL's settings and the launcher line,
# so that the preflight measures the job as training will run it.
#
#   nxt_nccl_defaults                         # exports NCCL_DEBUG (WARN) unless set
#   nxt_step_launcher LAUNCHER CPUS_PER_TASK CPU_BIND DISTRIBUTION
#                                             # fills the array `launch` (srun ... or mpirun ...)

nxt_nccl_defaults() {
  # The NCCL settings that most often need a cluster-specific value (nxt calls NCCL directly, so these are NCCL's own variables; PyTorch's TORCH_NCCL_* do nothing.)
  # What NCCL prints: WARN (errors only, the default here); INFO on a first run on a new cluster
  # shows the topology, the rings/trees and the transport of each link (NET/IB, NET/Socket,
  # P2P/NVLink, SHM). NCCL_DEBUG_SUBSYS=INIT,NET narrows INFO to set-up and networking.
  export NCCL_DEBUG=${NCCL_DEBUG:-WARN}
  # The network interface for NCCL's bootstrap and its socket transport (ib0, eth0, or
  # "^docker,lo" to exclude some). A wrong choice shows as a hang at start-up.
  # export NCCL_SOCKET_IFNAME=ib0
  # Which InfiniBand/RoCE adapters and ports NCCL uses between nodes (unset: all it finds);
  # restrict to the ones wired to the GPUs, e.g. mlx5_0:1,mlx5_1:1 ("=" prefix: exact names).
  # export NCCL_IB_HCA=mlx5
  # How far apart two GPUs may be for direct peer-to-peer copies: NVL (NVLink only), PIX, PXB,
  # PHB, SYS (anything). Lower it when PCIe P2P through the CPU is slow or broken on a node.
  # export NCCL_P2P_LEVEL=NVL
  # How far a NIC may be from a GPU for GPUDirect RDMA (same scale as NCCL_P2P_LEVEL).
  # export NCCL_NET_GDR_LEVEL=PHB
  # InfiniBand retry timeout, 4.096 us x 2^value: raise it (e.g. 22) if large jobs fail with IB
  # timeouts on a congested fabric.
  # export NCCL_IB_TIMEOUT=22
}

nxt_step_launcher() {
  local launcher=$1 cpus_per_task=$2 cpu_bind=$3 distribution=$4 tasks_per_node
  case "$launcher" in
    srun)
      # --cpus-per-task: since Slurm 22.05 srun no longer takes it from sbatch; without it every
      #   rank would be bound to one core.
      # --kill-on-bad-exit=0 (also overrides a site's KillOnBadExit=1): the ranks exit 75 one by
      #   one after the checkpoint, and srun must not kill the others while they shut down. A
      #   failing rank still ends the job: nxt_ddp calls MPI_Abort, and a rank killed outright
      #   (SIGKILL, OOM) ends the step through PMIx (measured: within seconds).
      # --distribution=block:block: a rank picks the GPU of its node-local rank, and GPUs 0-3 of
      #   an 8-GPU node hang off socket 0; with Slurm's default (cyclic across sockets) local
      #   ranks 1, 3, 5, 7 would get socket 1's cores while feeding socket 0's GPUs. Block within
      #   the node puts local ranks 0-3 on socket 0. Each rank logs cpu_numa and gpu_numa, and
      #   warns when they differ (docs/cluster.md, "Binding").
      launch=(srun --mpi=pmix --kill-on-bad-exit=0 --cpus-per-task="$cpus_per_task" --cpu-bind="$cpu_bind"
              --distribution="$distribution")
      ;;
    mpirun)
      # Ranks per node as Slurm laid them out ("8(x2)" -> 8). Each rank binds itself to its share
      # of the node's allocated CPUs (nxt_mpirun --bind-local-rank): Open MPI 4.1's own binding
      # ignores the CPU mask Slurm gives the job.
      tasks_per_node=${SLURM_NTASKS_PER_NODE:-${SLURM_TASKS_PER_NODE:-1}}
      tasks_per_node=${tasks_per_node%%[(,]*}
      mapfile -t forward < <(nxt_forward_env_args)
      # mpirun keeps its default of ending the job when the first rank exits non-zero: rank 0
      #   writes its exit status before MPI_Finalize, whose fence holds every other rank until
      #   then, so that cannot cut the status short; and turning it off (orte_abort_on_non_zero_
      #   status 0) leaves the other ranks blocked for good when one is killed outright (an OOM
      #   kill; measured) and makes mpirun report 0 for ranks that exited 75.
      launch=(mpirun -np "${SLURM_NTASKS:?}" --map-by "ppr:$tasks_per_node:node" --bind-to none
              "${forward[@]}")
      [[ $(id -u) -eq 0 ]] && launch+=(--allow-run-as-root)
      [[ -n "${SLURM_OVERCOMMIT:-}" ]] && launch+=(--oversubscribe)
      [[ "$cpu_bind" == none ]] || launch+=("$root/launch/nxt_mpirun" --bind-local-rank)
      # mpirun starts its daemons on the other nodes with srun, which (Slurm >= 22.05) would give
      # each daemon, and so all its ranks, one CPU; SRUN_CPUS_PER_TASK gives it the node's CPUs.
      if [[ "${SLURM_JOB_NUM_NODES:-1}" -gt 1 ]]; then export SRUN_CPUS_PER_TASK=${SLURM_CPUS_ON_NODE:-$cpus_per_task}; fi
      ;;
    *) echo "${0##*/}: NXT_LAUNCHER must be srun or mpirun, got '$launcher'" >&2; return 2 ;;
  esac
}
