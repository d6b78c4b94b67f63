// Where a rank computes: its device (one GPU per local rank, or the CPU), how many compute
// threads it takes so the ranks on one node share its cores, and the one-line description of
// that placement that every rank logs at start-up.
#pragma once
#include <optional>
#include <string>
#include <vector>

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

// "0-3,8" (the format of allowed_cpus().list and of /sys cpulist files) -> {0, 1, 2, 3, 8};
// blank text -> none. Malformed text is an error that quotes it.
std::vector<int> parse_cpu_list(const std::string& text);

// This rank's share of the node's CPUs: the allowed CPUs when the launcher bound it to a subset
// of the machine, else the machine's CPUs divided among the node's ranks. At least 1.
int rank_cpu_share(const ProcessPlace& place);

// The configured count; else OMP_NUM_THREADS when set (never more than the allowed CPUs); else
// rank_cpu_share(). At least 1.
int cpu_threads_per_rank(std::optional<int64_t> configured, const ProcessPlace& place);

// data.loader_threads: auto. A GPU rank's own thread only drives the GPU, so the loader, which
// decodes and augments every image, gets the rest of the rank's CPUs (rank_cpus - 1, at least
// 1); a CPU rank's cores compute, so its loader takes 1.
int auto_loader_threads(bool cuda, int rank_cpus);

// Which NUMA nodes hold a rank's CPUs and its GPU. Half the ranks feeding a GPU across the
// socket link is what Slurm's default cyclic distribution does with --cpu-bind=cores while GPUs
// follow the local rank (docs/cluster.md, "Binding"), so the placement line shows both.
struct NumaPlacement {
  std::vector<int> cpu_nodes;   // nodes holding one or more of the rank's CPUs; empty: unknown
  std::optional<int> gpu_node;  // nullopt: a CPU rank, or not known to the kernel
  bool gpu = false;             // the rank computes on a GPU

  // "cpu_numa=0,1" and, for a GPU rank, " gpu_numa=1" ("?" for what is unknown).
  std::string text() const;
  // The GPU's node is known and holds none of the rank's CPUs.
  bool gpu_far_from_cpus() const;
};

// Reads a /sys tree rooted at `sys_root` ("/sys"; a test passes a folder of its own): node N
// holds the CPUs listed in <root>/devices/system/node/nodeN/cpulist; the GPU with PCI bus id
// `gpu_pci_bus_id` ("0000:3B:00.0" as CUDA writes it; empty: a CPU rank) sits on the node in
// <root>/bus/pci/devices/<bus id in lower case>/numa_node (-1 there: unknown). Missing files
// mean unknown, not an error: containers and single-socket machines may have none.
NumaPlacement numa_placement(const std::string& sys_root, const std::vector<int>& cpus,
                             const std::string& gpu_pci_bus_id);

// This process's: its allowed CPUs and its device's bus id (cudaDeviceGetPCIBusId), from /sys.
NumaPlacement numa_placement_of(const torch::Device& device);

// What a rank computes with.
struct RankCompute {
  torch::Device device = torch::kCPU;
  int loader_threads = 1;  // threads preparing batches
};

struct RankOptions {
  DeviceChoice device = DeviceChoice::kAuto;
  std::optional<int64_t> compute_threads;  // CPU threads per rank; nullopt: cpu_threads_per_rank
  std::optional<int64_t> loader_threads;   // nullopt: auto_loader_threads()
  bool cudnn_benchmark = true;
};

// One rank's compute set-up, the same for nxt_ddp, nxt_eval and nxt_predict: picks the device
// (pick_device) and makes it the current CUDA device before anything is allocated there, sets
// torch's CPU threads or cuDNN's autotuner, tunes the allocator and OpenCV
// (common/process_tuning.h), chooses the loader threads, and warns when the GPU sits on another
// NUMA node than the rank's CPUs.
RankCompute configure_rank(const ProcessPlace& place, const RankOptions& options);

// "rank=R world=W host=H local_rank=L local_size=S cpus=N cpu_list=... cpu_numa=...
// [gpu_numa=...] compute_threads=T loader_threads=U device=D allreduce=P": one line per rank, so
// a cluster log shows how every rank was placed.
std::string placement_text(const ProcessPlace& place, const torch::Device& device,
                           int loader_threads, const Communicator& comm);

}  // namespace nxt
