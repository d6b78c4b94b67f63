// Implements device and thread placement.
#include "comm/placement.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "common/check.h"
#include "common/log.h"
#include "common/process_tuning.h"

namespace nxt {

int gpu_index_for_rank(int visible, int local_rank, int local_size) {
  NXT_CHECK(visible > 0, "no CUDA device is visible to this rank (CUDA_VISIBLE_DEVICES?)");
  if (visible == 1) return 0;
  NXT_CHECK(local_size <= visible, local_size, " ranks share this node but only ", visible,
            " GPU(s) are visible: NCCL cannot run two ranks on one GPU. Start at most ", visible,
            " rank(s) per node (mpirun -np ", visible, ", or Slurm --ntasks-per-node=", visible,
            "), or give each rank its own GPU (Slurm --gpus-per-task=1)");
  return local_rank;
}

torch::Device pick_device(DeviceChoice choice, const ProcessPlace& place) {
  const bool cuda = choice == DeviceChoice::kCuda ||
                    (choice == DeviceChoice::kAuto && torch::cuda::is_available());
  if (!cuda) return torch::kCPU;
  NXT_CHECK(torch::cuda::is_available(), "device cuda was asked for but no CUDA device is ",
            "available (or this LibTorch has no CUDA)");
  const int visible = static_cast<int>(torch::cuda::device_count());
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(gpu_index_for_rank(
                                         visible, place.local_rank, place.local_size)));
}

CpuAllowance allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  CpuAllowance allowance;
  if (sched_getaffinity(0, sizeof set, &set) != 0) {
    allowance.count = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    allowance.list = "?";
    return allowance;
  }
  allowance.count = CPU_COUNT(&set);
  std::ostringstream list;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &set)) continue;
    int last = cpu;
    while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, &set)) ++last;
    if (list.tellp() > 0) list << ",";
    list << cpu;
    if (last > cpu) list << "-" << last;
    cpu = last;
  }
  allowance.list = list.str();
  return allowance;
}

int cpu_threads_per_rank(std::optional<int64_t> configured, const ProcessPlace& place) {
  if (configured) return static_cast<int>(*configured);
  const int allowed = std::max(1, allowed_cpus().count);
  if (const char* omp = std::getenv("OMP_NUM_THREADS"); omp && std::atoi(omp) > 0)
    return std::min(allowed, std::atoi(omp));
  const int online = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  if (allowed < online) return allowed;  // bound by the launcher: this rank's own share
  return std::max(1, allowed / std::max(1, place.local_size));
}

RankCompute configure_rank(const ProcessPlace& place, const RankOptions& options) {
  // Before any convolution (Note [oneDNN without cache sizes] in common/process_tuning.h).
  if (const std::string warning = avoid_onednn_crash_without_cache_sizes(); !warning.empty())
    log::warn() << warning;
  RankCompute compute;
  compute.device = pick_device(options.device, place);
  if (compute.device.is_cuda()) {
    torch::globalContext().setBenchmarkCuDNN(options.cudnn_benchmark);
  } else {
    torch::set_num_threads(cpu_threads_per_rank(options.compute_threads, place));
  }
  keep_large_buffers_for_reuse();
  single_threaded_opencv();  // the loader parallelises over images instead
  compute.loader_threads =
      static_cast<int>(options.loader_threads.value_or(compute.device.is_cuda() ? 4 : 1));
  return compute;
}

std::string placement_text(const ProcessPlace& place, const torch::Device& device,
                           int loader_threads, const Communicator& comm) {
  char host[256] = "?";
  gethostname(host, sizeof host - 1);
  const CpuAllowance cpus = allowed_cpus();
  std::ostringstream text;
  text << "rank=" << place.rank << " world=" << place.world_size << " host=" << host
       << " local_rank=" << place.local_rank << " local_size=" << place.local_size
       << " cpus=" << cpus.count << " cpu_list=" << cpus.list
       << " compute_threads=" << (device.is_cuda() ? 1 : torch::get_num_threads())
       << " loader_threads=" << loader_threads << " device=" << device.str()
       << " allreduce=" << comm.allreduce_path();
  return text.str();
}

}  // namespace nxt
