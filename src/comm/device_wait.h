// The bounded host wait for a device's queued work (Note [CUDA queries] in comm/cuda_query.h):
// what every read of a device value on the host waits with, so that a wedged GPU ends the rank
// after the deadline instead of hanging it. On a job of one rank no peer's watchdog would see
// the hang, and this rank's watchdog sees only collectives: a GPU stuck in the forward leaves
// none in flight.
#pragma once
#include <chrono>
#include <string>

#include "comm/watchdog.h"
#include "common/torch_pch.h"

namespace nxt {

// Who waits and for how long, for the message: rank, dist.timeout_s.
struct DeviceWaitLimit {
  int rank = 0;
  std::chrono::seconds timeout = kDefaultTimeout;
  const char* key = "dist.timeout_s";
};

// Blocks the host until the work queued so far on `device`'s current stream has finished;
// throws throw_collective_timeout's error naming `what` after limit.timeout. Returns at once
// on a CPU device.
void wait_for_device(const torch::Device& device, const DeviceWaitLimit& limit,
                     const std::string& what);

}  // namespace nxt
