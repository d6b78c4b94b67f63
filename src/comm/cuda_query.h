// The one place nxt asks CUDA whether an event or a stream has finished, and the bounded host
// wait built on it (Note [CUDA queries]). Header-only: any translation unit of a CUDA build may
// use it (nxt_base's NCCL layer, nxt_core's torch parts).
//
// Note [CUDA queries]
// cudaEventQuery and cudaStreamQuery answer cudaErrorNotReady while the work is pending, and
// the runtime also keeps that answer as the calling thread's last error. PyTorch checks every
// kernel launch with cudaGetLastError (C10_CUDA_KERNEL_LAUNCH_CHECK), so the next launch on
// that thread would throw "device not ready" for a launch that succeeded: at start-up, at the
// first metric read, in a barrier. PyTorch's own CUDAEvent::query() clears it (PRs #18584,
// #61554); so do these helpers, and every query in nxt goes through them (a test scans the
// sources for raw calls: tests/unit/no_raw_cuda_queries.sh). Blocking calls
// (cudaEventSynchronize, torch::cuda::synchronize) wait for ever behind a wedged GPU; host
// waits poll with wait_for_cuda_event() and its deadline instead (Note [Watchdog] in
// comm/communicator.h).
#pragma once
#include <cuda_runtime_api.h>

#include <chrono>
#include <string>
#include <thread>

#include "comm/watchdog.h"
#include "common/check.h"

namespace nxt {

namespace detail {
// cudaSuccess -> true, cudaErrorNotReady -> false (and the thread's last error cleared); any
// other answer throws with the call, file and line.
inline bool cuda_ready(cudaError_t answer, const char* call, const char* file, int line) {
  if (answer == cudaSuccess) return true;
  if (answer == cudaErrorNotReady) {
    (void)cudaGetLastError();  // Note [CUDA queries]: NotReady is not an error
    return false;
  }
  throw_check_failure("CUDA call", call, cudaGetErrorString(answer), file, line);
}
}  // namespace detail

// True once every piece of work recorded before `event` has finished on the device. Never
// blocks; leaves no stale error behind.
#define NXT_CUDA_EVENT_DONE(event) \
  ::nxt::detail::cuda_ready(cudaEventQuery(event), "cudaEventQuery(" #event ")", __FILE__, __LINE__)
// True once `stream` has no pending work. Never blocks; leaves no stale error behind.
#define NXT_CUDA_STREAM_IDLE(stream)                                                           \
  ::nxt::detail::cuda_ready(cudaStreamQuery(stream), "cudaStreamQuery(" #stream ")", __FILE__, \
                            __LINE__)

inline bool cuda_event_done(cudaEvent_t event) {
  return NXT_CUDA_EVENT_DONE(event);
}
inline bool cuda_stream_idle(cudaStream_t stream) {
  return NXT_CUDA_STREAM_IDLE(stream);
}

// Blocks the host until `event` has happened, polling every `poll`; throws
// throw_collective_timeout's error (naming `rank`, `what`, the time waited and `timeout_key`)
// once `timeout` has passed: a wedged GPU, a stuck collective ahead of it on the stream.
// `on_poll` runs between queries (NCCL: checks the communicator's asynchronous error) and may
// throw.
template <class OnPoll>
void wait_for_cuda_event(cudaEvent_t event, std::chrono::seconds timeout, int rank,
                         const std::string& what, const char* timeout_key, OnPoll on_poll,
                         std::chrono::microseconds poll = std::chrono::microseconds(50)) {
  const auto start = std::chrono::steady_clock::now();
  while (!cuda_event_done(event)) {
    on_poll();
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (waited > static_cast<double>(timeout.count()))
      throw_collective_timeout(rank, what, waited, timeout, timeout_key);
    std::this_thread::sleep_for(poll);
  }
}
inline void wait_for_cuda_event(cudaEvent_t event, std::chrono::seconds timeout, int rank,
                                const std::string& what,
                                const char* timeout_key = "dist.timeout_s") {
  wait_for_cuda_event(event, timeout, rank, what, timeout_key, [] {});
}

}  // namespace nxt
