// Implements device and thread placement.
#include "comm/placement.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "common/check.h"
#include "common/log.h"
#include "common/nvtx.h"
#include "common/process_tuning.h"

#if defined(NXT_TORCH_HAS_CUDA)
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime_api.h>
#endif

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

namespace {

bool all_digits(const std::string& text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

// The first line of a small /sys file; nullopt when it cannot be read.
std::optional<std::string> read_line(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  return line;
}

std::string join(const std::vector<int>& values) {
  std::ostringstream text;
  for (size_t i = 0; i < values.size(); ++i) text << (i ? "," : "") << values[i];
  return text.str();
}

}  // namespace

std::vector<int> parse_cpu_list(const std::string& text) {
  std::vector<int> cpus;
  std::istringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) {
    const auto space = [](unsigned char c) { return std::isspace(c); };
    item.erase(std::remove_if(item.begin(), item.end(), space), item.end());
    if (item.empty()) continue;
    const size_t dash = item.find('-');
    const auto number = [&](const std::string& digits) {
      NXT_CHECK(all_digits(digits) && digits.size() < 7, "CPU list '", text, "': '", item,
                "' is not a CPU number or a range such as 0-3");
      return std::stoi(digits);
    };
    const int first = number(item.substr(0, dash));
    const int last = dash == std::string::npos ? first : number(item.substr(dash + 1));
    NXT_CHECK(first <= last, "CPU list '", text, "': range '", item, "' runs backwards");
    for (int cpu = first; cpu <= last; ++cpu) cpus.push_back(cpu);
  }
  return cpus;
}

int rank_cpu_share(const ProcessPlace& place) {
  const int allowed = std::max(1, allowed_cpus().count);
  const int online = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  if (allowed < online) return allowed;  // bound by the launcher: this rank's own share
  return std::max(1, allowed / std::max(1, place.local_size));
}

int cpu_threads_per_rank(std::optional<int64_t> configured, const ProcessPlace& place) {
  if (configured) return static_cast<int>(*configured);
  if (const char* omp = std::getenv("OMP_NUM_THREADS"); omp && std::atoi(omp) > 0)
    return std::min(std::max(1, allowed_cpus().count), std::atoi(omp));
  return rank_cpu_share(place);
}

int auto_loader_threads(bool cuda, int rank_cpus) {
  return cuda ? std::max(1, rank_cpus - 1) : 1;
}

NumaPlacement numa_placement(const std::string& sys_root, const std::vector<int>& cpus,
                             const std::string& gpu_pci_bus_id) {
  namespace fs = std::filesystem;
  NumaPlacement numa;
  const std::set<int> mine(cpus.begin(), cpus.end());
  std::set<int> nodes;
  std::error_code error;
  const fs::path node_dir = fs::path(sys_root) / "devices/system/node";
  for (fs::directory_iterator it(node_dir, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, 4, "node") != 0 || !all_digits(name.substr(4))) continue;
    const std::optional<std::string> list = read_line(it->path() / "cpulist");
    if (!list) continue;
    for (int cpu : parse_cpu_list(*list))
      if (mine.count(cpu)) {
        nodes.insert(std::stoi(name.substr(4)));
        break;
      }
  }
  numa.cpu_nodes.assign(nodes.begin(), nodes.end());
  numa.gpu = !gpu_pci_bus_id.empty();
  if (numa.gpu) {
    std::string bus = gpu_pci_bus_id;
    const auto lower = [](unsigned char c) { return static_cast<char>(std::tolower(c)); };
    std::transform(bus.begin(), bus.end(), bus.begin(), lower);
    const std::optional<std::string> node =
        read_line(fs::path(sys_root) / "bus/pci/devices" / bus / "numa_node");
    if (node && all_digits(*node) && node->size() < 7)  // "-1": the kernel does not know
      numa.gpu_node = std::stoi(*node);
  }
  return numa;
}

std::string NumaPlacement::text() const {
  std::string line = "cpu_numa=" + (cpu_nodes.empty() ? std::string("?") : join(cpu_nodes));
  if (gpu) line += " gpu_numa=" + (gpu_node ? std::to_string(*gpu_node) : std::string("?"));
  return line;
}

bool NumaPlacement::gpu_far_from_cpus() const {
  return gpu_node && !cpu_nodes.empty() &&
         std::find(cpu_nodes.begin(), cpu_nodes.end(), *gpu_node) == cpu_nodes.end();
}

NumaPlacement numa_placement_of(const torch::Device& device) {
  std::string bus_id;
#if defined(NXT_TORCH_HAS_CUDA)
  if (device.is_cuda()) {
    char id[32] = "";
    if (cudaDeviceGetPCIBusId(id, sizeof id, device.index()) == cudaSuccess) bus_id = id;
    if (bus_id.empty()) bus_id = "?";  // a GPU whose bus is unknown: gpu_numa=?
  }
#else
  if (device.is_cuda()) bus_id = "?";
#endif
  const CpuAllowance cpus = allowed_cpus();
  return numa_placement("/sys", parse_cpu_list(cpus.list == "?" ? "" : cpus.list), bus_id);
}

RankCompute configure_rank(const ProcessPlace& place, const RankOptions& options) {
  // Before any convolution (Note [oneDNN without cache sizes] in common/process_tuning.h).
  if (const std::string warning = avoid_onednn_crash_without_cache_sizes(); !warning.empty())
    log::warn() << warning;
  RankCompute compute;
  compute.device = pick_device(options.device, place);
  set_nvtx_enabled(compute.device.is_cuda());  // Note in common/nvtx.h: ranges on GPUs only
  if (compute.device.is_cuda()) {
    // The current device before anything touches CUDA: otherwise every rank's first allocation
    // or stream makes a context on device 0 (memory lost there, and the wrong GPU's stream).
#if defined(NXT_TORCH_HAS_CUDA)
    c10::cuda::set_device(compute.device.index());
#else
    c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)->setDevice(compute.device);
#endif
    torch::globalContext().setBenchmarkCuDNN(options.cudnn_benchmark);
  } else {
    torch::set_num_threads(cpu_threads_per_rank(options.compute_threads, place));
  }
  keep_large_buffers_for_reuse();
  single_threaded_opencv();  // the loader parallelises over images instead
  compute.loader_threads = static_cast<int>(options.loader_threads.value_or(
      auto_loader_threads(compute.device.is_cuda(), rank_cpu_share(place))));
  if (const NumaPlacement numa = numa_placement_of(compute.device); numa.gpu_far_from_cpus())
    log::warn() << "rank " << place.rank << ": its GPU " << compute.device.str()
                << " is on NUMA node " << *numa.gpu_node << " but its CPUs (" << allowed_cpus().list
                << ") are on node(s) " << join(numa.cpu_nodes)
                << ": every batch crosses the socket link. Under Slurm launch with "
                << "srun --distribution=block:block (cluster/train.sbatch does), or bind each rank "
                << "to the CPUs of its GPU's socket (docs/cluster.md, \"Binding\")";
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
       << " cpus=" << cpus.count << " cpu_list=" << cpus.list << " "
       << numa_placement_of(device).text()
       << " compute_threads=" << (device.is_cuda() ? 1 : torch::get_num_threads())
       << " loader_threads=" << loader_threads << " device=" << device.str()
       << " allreduce=" << comm.allreduce_path();
  return text.str();
}

}  // namespace nxt
