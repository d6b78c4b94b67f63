// Implements device and thread placement (comm/placement.h): the device and why CUDA is
// missing, the CPU budget of a rank, NUMA nodes from /sys, and the placement line.
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
#include "common/phase_range.h"
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
  NXT_CHECK(torch::cuda::is_available(), cuda_unavailable_text(cuda_answers()));
  const int visible = static_cast<int>(torch::cuda::device_count());
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(gpu_index_for_rank(
                                         visible, place.local_rank, place.local_size)));
}

CudaAnswers cuda_answers() {
  CudaAnswers answers;
  if (const char* visible = std::getenv("CUDA_VISIBLE_DEVICES")) answers.visible_devices = visible;
#if defined(NXT_TORCH_HAS_CUDA)
  // Without a driver, cudaDriverGetVersion answers 0 (and success); the runtime's version needs
  // no driver.
  if (cudaDriverGetVersion(&answers.driver_version) != cudaSuccess) answers.driver_version = 0;
  if (cudaRuntimeGetVersion(&answers.runtime_version) != cudaSuccess) answers.runtime_version = 0;
  int count = 0;
  if (const cudaError_t error = cudaGetDeviceCount(&count); error != cudaSuccess) {
    answers.device_count_error = cudaGetErrorString(error);
    (void)cudaGetLastError();  // leave no stale error for the next CUDA call on this thread
  }
#endif
  return answers;
}

namespace {

// CUDA's 12020 -> "12.2".
std::string cuda_version_text(int version) {
  return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
}

// The oldest Linux driver branch that runs a CUDA major version (NVIDIA's CUDA Toolkit release
// notes, "CUDA Toolkit and Minimum Required Driver Version"); 0 where not listed here.
int minimum_driver_for_cuda(int major) {
  switch (major) {
    case 11:
      return 450;
    case 12:
      return 525;
    case 13:
      return 580;
    default:
      return 0;
  }
}

// The tag of PyTorch's wheel index for a CUDA major version (download.pytorch.org/whl/<tag>):
// one that recent torch releases are built for.
std::string torch_wheel_tag_for_cuda(int major) {
  switch (major) {
    case 11:
      return "cu118";
    case 12:
      return "cu126";
    default:
      return "cu" + std::to_string(major) + "0";
  }
}

}  // namespace

std::string cuda_unavailable_text(const CudaAnswers& answers) {
  std::ostringstream text;
  text << "device cuda was asked for but ";
  if (answers.runtime_version == 0) {
    text << "this LibTorch has no CUDA (a CPU build, such as Debian's libtorch-dev): build "
         << "against a CUDA LibTorch (launch/build.sh with the venv's torch and a CUDA toolkit), "
         << "or set run.device: cpu";
    return text.str();
  }
  const std::string runtime = cuda_version_text(answers.runtime_version);
  const int driver_major = answers.driver_version / 1000;
  const int runtime_major = answers.runtime_version / 1000;
  if (answers.driver_version == 0) {
    text << "no NVIDIA driver is loaded on this machine (cudaDriverGetVersion: 0; LibTorch's "
         << "CUDA runtime is " << runtime << "): run on a GPU node (nvidia-smi there shows its "
         << "GPUs and driver), or set run.device: cpu";
  } else if (driver_major < runtime_major) {
    // Within a major version a newer runtime still runs on an older driver (CUDA's minor
    // version compatibility); across majors it does not, and CUDA then sees no device at all.
    const std::string tag = torch_wheel_tag_for_cuda(driver_major);
    text << "the NVIDIA driver supports CUDA up to " << cuda_version_text(answers.driver_version)
         << " and LibTorch's CUDA runtime is " << runtime << ", which needs a newer driver";
    if (const int branch = minimum_driver_for_cuda(runtime_major))
      text << " (CUDA " << runtime_major << ": driver " << branch << " or newer)";
    text << ", so CUDA sees no GPU. Either install a torch built for CUDA " << driver_major
         << " (NXT_TORCH_INDEX_URL=https://download.pytorch.org/whl/" << tag
         << " bash launch/python_env.sh, or your site's mirror of PyTorch's " << tag
         << " wheels) and rebuild with a CUDA " << driver_major << " toolkit, or update the "
         << "driver (docs/cluster.md, \"An older NVIDIA driver\")";
  } else {
    text << "CUDA sees no GPU, though the NVIDIA driver (CUDA "
         << cuda_version_text(answers.driver_version) << ") runs LibTorch's CUDA runtime ("
         << runtime << "): check the job's GPU request (Slurm --gpus-per-node), "
         << "CUDA_VISIBLE_DEVICES ("
         << (answers.visible_devices ? "'" + *answers.visible_devices + "'" : "unset")
         << ") and nvidia-smi";
  }
  if (!answers.device_count_error.empty())
    text << " [cudaGetDeviceCount: " << answers.device_count_error << "]";
  return text.str();
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

// Note [CPU budget of a rank]: below this many CPUs a GPU rank's communication threads share
// the main thread's CPU, leaving the loader the rest.
constexpr int kCpusForOwnCommCpu = 4;

CpuBudget cpu_budget(bool gpu, int rank_cpus, std::optional<int64_t> loader_threads,
                     std::optional<int64_t> intra_op_threads) {
  CpuBudget budget;
  budget.cpus = std::max(1, rank_cpus);
  budget.intra_op = static_cast<int>(intra_op_threads.value_or(gpu ? 1 : budget.cpus));
  budget.comm = gpu && budget.cpus >= kCpusForOwnCommCpu ? 1 : 0;
  const int cpus_left = budget.cpus - budget.intra_op - budget.comm;
  budget.loader = static_cast<int>(loader_threads.value_or(gpu ? std::max(1, cpus_left) : 1));
  return budget;
}

int CpuBudget::over() const {
  return std::max(0, intra_op + comm + loader - cpus);
}

std::string CpuBudget::text() const {
  std::ostringstream text;
  text << "main+autograd+intra_op " << intra_op << ", comm "
       << (comm > 0 ? std::to_string(comm) : std::string("shared")) << ", loader " << loader
       << " of " << cpus << " cpus";
  if (over() > 0) text << " (" << over() << " over)";
  return text.str();
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
  set_nvtx_enabled(compute.device.is_cuda());  // NVTX ranges on GPUs only (common/phase_range.h)
  if (compute.device.is_cuda()) {
    // The current device before anything touches CUDA: otherwise every rank's first allocation
    // or stream makes a context on device 0 (memory lost there, and the wrong GPU's stream).
#if defined(NXT_TORCH_HAS_CUDA)
    c10::cuda::set_device(compute.device.index());
#else
    c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)->setDevice(compute.device);
#endif
    torch::globalContext().setBenchmarkCuDNN(options.cudnn_benchmark);
  }
  // Note [CPU budget of a rank]: a GPU rank's intra-op threads are set too (1 unless
  // configured), else torch sizes them to the machine or OMP_NUM_THREADS beside the loader.
  const bool gpu = compute.device.is_cuda();
  const std::optional<int64_t> intra_op =
      gpu ? options.compute_threads
          : std::optional<int64_t>(cpu_threads_per_rank(options.compute_threads, place));
  const CpuBudget budget = cpu_budget(gpu, rank_cpu_share(place), options.loader_threads, intra_op);
  torch::set_num_threads(budget.intra_op);
  compute.loader_threads = budget.loader;
  keep_large_buffers_for_reuse();
  single_threaded_opencv();  // the loader parallelises over images instead
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
  const int intra_op = torch::get_num_threads();
  // The counts in use, passed as configured ones: the budget configure_rank() made, or what
  // exceeds it.
  const CpuBudget budget =
      cpu_budget(device.is_cuda(), rank_cpu_share(place), loader_threads, intra_op);
  std::ostringstream text;
  text << "rank=" << place.rank << " world=" << place.world_size << " host=" << host
       << " local_rank=" << place.local_rank << " local_size=" << place.local_size
       << " cpus=" << cpus.count << " cpu_list=" << cpus.list << " "
       << numa_placement_of(device).text() << " compute_threads=" << intra_op
       << " loader_threads=" << loader_threads << " device=" << device.str()
       << " allreduce=" << comm.allreduce_path() << " budget=" << budget.text();
  return text.str();
}

}  // namespace nxt
