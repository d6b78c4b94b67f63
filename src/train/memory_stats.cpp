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

PeakMemory peak_memory(torch::Device device) {
#if defined(NXT_TORCH_HAS_CUDA)
  if (device.is_cuda()) {
    // Index 0 is the aggregate over pool kinds in every LibTorch version (StatType::AGGREGATE
    // moved namespaces between releases).
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    return {stats.allocated_bytes[0].peak, stats.reserved_bytes[0].peak, true};
  }
#endif
  (void)device;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return {static_cast<int64_t>(usage.ru_maxrss) * 1024, 0, false};
}

std::string peak_memory_text(torch::Device device) {
  const PeakMemory peak = peak_memory(device);
  if (!peak.gpu) return "peak RSS " + gibibytes(static_cast<double>(peak.bytes));
  return "peak GPU memory " + gibibytes(static_cast<double>(peak.bytes)) + " allocated, " +
         gibibytes(static_cast<double>(peak.reserved_bytes)) + " reserved";
}

void reset_peak_memory(torch::Device device) {
#if defined(NXT_TORCH_HAS_CUDA)
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
#endif
  (void)device;
}

}  // namespace nxt
