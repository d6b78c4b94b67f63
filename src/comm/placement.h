// Where a rank computes: its device (one GPU per local rank, or the CPU), how many compute
// threads it takes so the ranks on one node share its cores, and the one-line description of
// that placement that every rank logs at start-up.
#pragma once
#include <optional>
#include <string>

#include "comm/communicator.h"
#include "common/torch_pch.h"

namespace nxt {

// kAuto: CUDA when available. CUDA ranks get the GPU that gpu_index_for_rank() picks; errors
// say when CUDA was asked for and is missing.
torch::Device pick_device(DeviceChoice choice, const ProcessPlace& place);

// Which of the `visible` GPUs (after CUDA_VISIBLE_DEVICES) a rank uses: with one visible GPU,
// device 0 (Slurm's --gpus-per-task=1 or --gpu-bind gives each rank its own); with several,
// the local rank's. Fewer GPUs than local ranks (but more than one) is an error that says how
// many ranks to start.
int gpu_index_for_rank(int visible, int local_rank, int local_size);

// The CPUs this process may run on (sched_getaffinity: Slurm's binding, cgroups, taskset,
// mpirun --bind-to), as a count and a list such as "0-3,8".
struct CpuAllowance {
  int count = 1;
  std::string list;
};
CpuAllowance allowed_cpus();

// The configured count; else OMP_NUM_THREADS when set; else the allowed CPUs when the launcher
// bound this rank to a subset of the machine, or the machine's CPUs divided among the node's
// ranks when it did not. Never more than the allowed CPUs, at least 1.
int cpu_threads_per_rank(std::optional<int64_t> configured, const ProcessPlace& place);

// What a rank computes with.
struct RankCompute {
  torch::Device device = torch::kCPU;
  int loader_threads = 1;  // threads preparing batches
};

struct RankOptions {
  DeviceChoice device = DeviceChoice::kAuto;
  std::optional<int64_t> compute_threads;  // CPU threads per rank; nullopt: cpu_threads_per_rank
  std::optional<int64_t> loader_threads;   // nullopt: 4 on a GPU (one cannot feed it), 1 on a
                                           // CPU (whose cores compute)
  bool cudnn_benchmark = true;
};

// One rank's compute set-up, the same for nxt_ddp, nxt_eval and nxt_predict: picks the device
// (pick_device), sets torch's CPU threads or cuDNN's autotuner, tunes the allocator and OpenCV
// (common/process_tuning.h), and chooses the loader threads.
RankCompute configure_rank(const ProcessPlace& place, const RankOptions& options);

// "rank=R world=W host=H local_rank=L local_size=S cpus=N cpu_list=... compute_threads=T
// loader_threads=U device=D allreduce=P": one line per rank, so a cluster log shows how every
// rank was placed.
std::string placement_text(const ProcessPlace& place, const torch::Device& device,
                           int loader_threads, const Communicator& comm);

}  // namespace nxt
