// Where a rank computes: its device (one GPU per local rank, or the CPU, and why CUDA is missing
// when it was asked for), how its threads share the rank's CPUs (Note [CPU budget of a rank]),
// and the one-line description of that placement that every rank logs at start-up.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "common/torch_pch.h"

namespace nxt {

// kAuto: CUDA when available. CUDA ranks get the GPU that gpu_index_for_rank() picks; when CUDA
// was asked for and is missing, the error is cuda_unavailable_text(cuda_answers()).
torch::Device pick_device(DeviceChoice choice, const ProcessPlace& place);

// What CUDA says about this machine when it shows no GPU. Versions are CUDA's integers,
// 1000 * major + 10 * minor (12020 is CUDA 12.2).
struct CudaAnswers {
  int driver_version = 0;   // cudaDriverGetVersion: the newest CUDA the driver runs; 0: none
  int runtime_version = 0;  // cudaRuntimeGetVersion: the runtime LibTorch uses; 0: a CPU LibTorch
  std::string device_count_error;              // cudaGetDeviceCount's error; "" when it answered
  std::optional<std::string> visible_devices;  // CUDA_VISIBLE_DEVICES; nullopt: unset
};

// This process's answers (only the variable in a build without CUDA).
CudaAnswers cuda_answers();

// The error for "device cuda was asked for" when CUDA sees no GPU: which of the usual causes the
// answers point at (a CPU LibTorch, no driver, a driver older than the runtime, GPUs hidden or
// absent), the versions as "12.2", and what to do. The common case on clusters: torch's default
// wheels carry CUDA 13, which needs driver 580 or newer; a 535-570 driver runs CUDA 12 at most,
// and the remedy is a torch built for CUDA 12 (NXT_TORCH_INDEX_URL for launch/python_env.sh,
// docs/cluster.md "An older NVIDIA driver") or a newer driver.
std::string cuda_unavailable_text(const CudaAnswers& answers);

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

// Note [CPU budget of a rank]
// A rank's threads share its CPUs (rank_cpu_share(): its --cpus-per-task or its slice of the
// node), and a thread without a CPU of its own stalls the others. A GPU rank runs
//  - the main thread (the step loop: kernel launches, the optimizer step) and torch's autograd
//    device thread (backward's kernels, the reducer's hooks). They take turns, since backward()
//    blocks the main thread while the device thread works, so together they get one CPU;
//  - torch's intra-op threads, of which the main thread is the first: 1 (run.threads_per_rank
//    when set). A GPU rank's CPU ops are few and small; left unset, torch would size its pool
//    to the CPUs or to OMP_NUM_THREADS (which cluster/train.sbatch sets to the task's CPUs, for
//    CPU runs), threads that would fight the loader for the CPUs;
//  - the communication threads: NCCL's proxy (it polls while network transfers are in flight),
//    the collective watchdog and MPI's threads (mostly asleep). They share one CPU once the rank
//    has 4; with fewer they share the main thread's, as a loader short of a CPU costs more (the
//    GPU waits for batches);
//  - the loader threads (data.loader_threads: auto), which decode and augment every image: all
//    the CPUs left, at least 1. 12 CPUs: main+autograd+intra_op 1, comm 1, loader 10.
// A CPU rank's cores compute: intra-op threads = its CPUs (cpu_threads_per_rank(); the main
// thread is one of them, and CPU autograd runs on it), communication shares them, and the
// loader adds 1 thread, preparing the next batch while the cores compute (one thread more than
// CPUs). A configured data.loader_threads or run.threads_per_rank takes precedence over the
// split; the placement line then says how many threads exceed the CPUs.
struct CpuBudget {
  int cpus = 1;      // the rank's CPUs (rank_cpu_share())
  int intra_op = 1;  // torch's intra-op threads, the main thread (and autograd's) among them
  int comm = 0;      // a CPU for NCCL's proxy, the watchdog and MPI; 0: they share the main's
  int loader = 1;    // threads preparing batches

  // Threads wanting a CPU of their own beyond the rank's CPUs (0 when the budget fits).
  int over() const;
  // "main+autograd+intra_op 1, comm 1, loader 10 of 12 cpus" ("comm shared" when it has no CPU
  // of its own; " (2 over)" appended when over() > 0).
  std::string text() const;
};

// The budget of a rank with `rank_cpus` CPUs, on a GPU (`gpu`) or the CPU (Note [CPU budget of
// a rank]). `loader_threads` and `intra_op_threads` are the configured counts (nullopt: auto);
// configure_rank() passes a CPU rank's cpu_threads_per_rank() as its intra-op count. Pure: the
// CPUs are an argument, so a test can fake any machine.
CpuBudget cpu_budget(bool gpu, int rank_cpus, std::optional<int64_t> loader_threads,
                     std::optional<int64_t> intra_op_threads);

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
  std::optional<int64_t> compute_threads;  // torch's intra-op threads; nullopt: cpu_budget()'s
  std::optional<int64_t> loader_threads;   // nullopt: cpu_budget()'s
  bool cudnn_benchmark = true;
};

// One rank's compute set-up, the same for nxt_ddp, nxt_eval and nxt_predict: picks the device
// (pick_device) and makes it the current CUDA device before anything is allocated there, sets
// cuDNN's autotuner, sizes torch's intra-op threads and the loader's to the rank's CPUs
// (cpu_budget()), tunes the allocator and OpenCV (common/process_tuning.h), and warns when the
// GPU sits on another NUMA node than the rank's CPUs.
RankCompute configure_rank(const ProcessPlace& place, const RankOptions& options);

// "rank=R world=W host=H local_rank=L local_size=S cpus=N cpu_list=... cpu_numa=...
// [gpu_numa=...] compute_threads=T loader_threads=U device=D allreduce=P budget=...": one line
// per rank, so a cluster log shows how every rank was placed. The budget (CpuBudget::text()) is
// that of the rank's CPU share with the counts in use: torch's intra-op threads (T), U.
std::string placement_text(const ProcessPlace& place, const torch::Device& device,
                           int loader_threads, const Communicator& comm);

}  // namespace nxt
