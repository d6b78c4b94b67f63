// Peak memory of a rank for the per-epoch log: on a GPU the caching allocator's peak of
// allocated bytes since the last reset (what the model and batch really need), on the CPU the
// process's peak resident set.
#pragma once
#include <string>

#include "common/torch_pch.h"

namespace nxt {

struct PeakMemory {
  int64_t bytes = 0;           // GPU: allocated; CPU: resident set
  int64_t reserved_bytes = 0;  // GPU: held by the caching allocator
  bool gpu = false;
};
PeakMemory peak_memory(torch::Device device);

// "peak GPU memory 41.2 GiB allocated" / "peak RSS 1.3 GiB".
std::string peak_memory_text(torch::Device device);

// Starts a new peak window (GPU only: the CPU's peak RSS cannot be reset).
void reset_peak_memory(torch::Device device);

}  // namespace nxt
