// Where a rank's step time goes: waiting for data (and its copy to the device), forward +
// backward, waiting for the last gradient buckets and the per-step flag all-reduce (the
// exposed communication), and the optimizer. On the CPU these are host laps. On CUDA the host
// only enqueues work, so host laps would measure enqueue time: there each boundary records a
// CUDA event on the compute stream, and the GPU time between events is read in collect(), which
// the trainer calls right after its metric read (the host has synchronised then anyway): no
// extra sync per step. collect() waits for the events by polling them under dist.timeout_s
// (comm/cuda_query.h), never by a blocking synchronise: on a job of one rank no peer's watchdog
// would end a wait behind a stuck GPU.
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "comm/device_wait.h"
#include "common/torch_pch.h"

namespace nxt {

class StepTimer {
 public:
  enum Phase { kData, kCompute, kCommunication, kOptimizer, kPhaseCount };
  // `limit` (the rank in the job, dist.timeout_s) bounds and names collect()'s wait.
  StepTimer(torch::Device device, DeviceWaitLimit limit);
  ~StepTimer();
  StepTimer(const StepTimer&) = delete;
  StepTimer& operator=(const StepTimer&) = delete;

  void start_step();      // the boundary before the step's first phase
  void end(Phase phase);  // `phase` ends here; the next phase starts
  // CUDA: adds the recorded intervals up, once their events have happened; throws an Error
  // naming the rank and dist.timeout_s, adding nothing, when they have not within the timeout
  // (a stuck GPU).
  void collect();
  // Seconds per phase since construction (after collect() on CUDA).
  const std::array<double, kPhaseCount>& seconds() const { return seconds_; }
  int64_t steps() const { return steps_; }  // start_step() calls since construction

 private:
  struct DeviceEvents;  // CUDA events, when on a GPU
  using Clock = std::chrono::steady_clock;
  torch::Device device_;
  DeviceWaitLimit limit_;
  Clock::time_point mark_;
  std::array<double, kPhaseCount> seconds_{};
  int64_t steps_ = 0;
  std::unique_ptr<DeviceEvents> events_;
};

}  // namespace nxt
