// Where a rank computes: its device (one GPU per local rank, or the CPU) and, on the CPU, how
// many compute threads it takes so the ranks on one node share its cores.
#pragma once
#include <optional>
#include <string>

#include "common/torch_pch.h"
#include "dist/communicator.h"

namespace nxt {

// device_name: auto (CUDA when available) | cpu | cuda. CUDA ranks get the GPU of their local
// rank; errors say when CUDA was asked for and is missing.
torch::Device pick_device(const std::string& device_name, const ProcessPlace& place);

// The configured count, or the node's cores divided among its local ranks (at least 1).
int cpu_threads_per_rank(std::optional<int64_t> configured, const ProcessPlace& place);

}  // namespace nxt
