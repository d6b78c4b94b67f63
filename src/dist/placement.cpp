// Implements device and thread placement.
#include "dist/placement.h"

#include <algorithm>
#include <thread>

#include "common/check.h"

#if defined(NXT_HAVE_NCCL) && defined(NXT_TORCH_HAS_CUDA)
#include "dist/nccl_communicator.h"
#endif

namespace nxt {

torch::Device pick_device(const std::string& device_name, const ProcessPlace& place) {
  NXT_CHECK(device_name == "auto" || device_name == "cpu" || device_name == "cuda",
            "device must be auto, cpu or cuda, got '", device_name, "'");
  const bool cuda = device_name == "cuda" || (device_name == "auto" && torch::cuda::is_available());
  if (!cuda) return torch::kCPU;
  NXT_CHECK(torch::cuda::is_available(), "device cuda was asked for but no CUDA device is ",
            "available (or this LibTorch has no CUDA)");
#if defined(NXT_HAVE_NCCL) && defined(NXT_TORCH_HAS_CUDA)
  return cuda_device_for(place);
#else
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(place.local_rank));
#endif
}

int cpu_threads_per_rank(std::optional<int64_t> configured, const ProcessPlace& place) {
  if (configured) return static_cast<int>(*configured);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, place.local_size));
}

}  // namespace nxt
