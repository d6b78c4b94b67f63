// Implements the peak-memory figures.
#include "train/memory_stats.h"

#include <sys/resource.h>

#include <cstdio>

#if defined(NXT_TORCH_HAS_CUDA)
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace nxt {
namespace {

std::string gibibytes(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
  return text;
}

}  // namespace

std::string peak_memory_text(torch::Device device) {
#if defined(NXT_TORCH_HAS_CUDA)
  if (device.is_cuda()) {
    // Index 0 is the aggregate over pool kinds in every LibTorch version (StatType::AGGREGATE
    // moved namespaces between releases).
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    return "peak GPU memory " + gibibytes(static_cast<double>(stats.allocated_bytes[0].peak)) +
           " allocated, " + gibibytes(static_cast<double>(stats.reserved_bytes[0].peak)) +
           " reserved";
  }
#endif
  (void)device;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return "peak RSS " + gibibytes(static_cast<double>(usage.ru_maxrss) * 1024.0);
}

void reset_peak_memory(torch::Device device) {
#if defined(NXT_TORCH_HAS_CUDA)
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
#endif
  (void)device;
}

}  // namespace nxt
