// Implements the step timer: host laps on the CPU, CUDA events on a GPU.
#include "train/step_timer.h"

#if defined(NXT_TORCH_HAS_CUDA)
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAStream.h>

#include "comm/cuda_query.h"
#endif

namespace nxt {

#if defined(NXT_TORCH_HAS_CUDA)
struct StepTimer::DeviceEvents {
  // Timing events (cudaEventDefault): the last boundary, and the intervals not collected yet.
  std::shared_ptr<at::cuda::CUDAEvent> last;
  struct Interval {
    Phase phase;
    std::shared_ptr<at::cuda::CUDAEvent> from, to;
  };
  std::vector<Interval> pending;

  std::shared_ptr<at::cuda::CUDAEvent> record(torch::Device device) {
    auto event = std::make_shared<at::cuda::CUDAEvent>(cudaEventDefault);
    event->record(c10::cuda::getCurrentCUDAStream(device.index()));
    return event;
  }
};
#else
struct StepTimer::DeviceEvents {};
#endif

StepTimer::StepTimer(torch::Device device, DeviceWaitLimit limit)
    : device_(device), limit_(limit), mark_(Clock::now()) {
#if defined(NXT_TORCH_HAS_CUDA)
  if (device_.is_cuda()) events_ = std::make_unique<DeviceEvents>();
#endif
}

StepTimer::~StepTimer() = default;

void StepTimer::start_step() {
  ++steps_;
  mark_ = Clock::now();
#if defined(NXT_TORCH_HAS_CUDA)
  if (events_) events_->last = events_->record(device_);
#endif
}

void StepTimer::end(Phase phase) {
#if defined(NXT_TORCH_HAS_CUDA)
  if (events_) {
    auto now = events_->record(device_);
    events_->pending.push_back({phase, events_->last, now});
    events_->last = std::move(now);
    return;
  }
#endif
  const auto now = Clock::now();
  seconds_[phase] += std::chrono::duration<double>(now - mark_).count();
  mark_ = now;
}

void StepTimer::collect() {
#if defined(NXT_TORCH_HAS_CUDA)
  if (!events_) return;
  // Every wait first, then the sums: a wait that throws leaves the timer as it was.
  for (const auto& interval : events_->pending)
    wait_for_cuda_event(interval.to->event(), limit_.timeout, limit_.rank,
                        "the GPU work of the steps since the last metric read (the step "
                        "timer's events)",
                        limit_.key);
  for (const auto& interval : events_->pending)
    seconds_[interval.phase] += interval.from->elapsed_time(*interval.to) / 1000.0;
  events_->pending.clear();
#endif
}

}  // namespace nxt
