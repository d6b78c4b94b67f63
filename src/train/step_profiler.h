// Implements run.profile_steps: LibTorch's profiler (Kineto) over a window of training steps on
// every rank, written as one Chrome/Perfetto trace per rank (Note [Step profiles]).
#pragma once
#include <memory>
#include <string>

#include <ATen/record_function.h>
#include <torch/torch.h>

#include "common/config.h"

namespace nxt {

// Note [Step profiles]
// A profile is what a user opens when a step is slower than it should be, or one rank slower
// than the others. Every rank records the same window of global steps (run.profile_steps) and
// writes <run folder>/profile/rank<R>.pt.trace.json, in the format of torch.profiler's
// export_chrome_trace, so that the tools made for PyTorch's traces read nxt's:
//  - Perfetto (ui.perfetto.dev) and chrome://tracing show the timeline: each step as
//    "ProfilerStep#<step>" (the name torch.profiler gives its steps, which HTA and TensorBoard's
//    profiler plugin split on), the phases of common/phase_range.h inside it (data, forward,
//    backward, optimizer, ...), and the aten ops with their input shapes, FLOPs and memory
//    allocations; on a GPU the CUDA kernels and copies too;
//  - Holistic Trace Analysis compares ranks: the trace's distributedInfo holds the rank, the
//    world size and the backend, as PyTorch writes them for a distributed run.
// The profiler records the thread that starts it and the threads autograd runs backward on;
// the communication thread's collectives show as the main thread's "all-reduce wait".
// Off (the default), a phase range costs one check of the thread's callbacks.
class StepProfiler {
 public:
  // `window` empty: the profiler never starts. Refuses (Error) a window on a LibTorch without
  // Kineto, naming the key and the build, before the run's first step.
  StepProfiler(StepWindow window, std::string trace_path, int rank, int world_size,
               std::string backend, torch::Device device);
  // A run failing inside the window (an exception unwinds) writes no trace: flushing the
  // profiler could block behind a stuck GPU and delay the job's abort. Never throws.
  ~StepProfiler();
  StepProfiler(const StepProfiler&) = delete;
  StepProfiler& operator=(const StepProfiler&) = delete;

  // Around each optimizer step, with its global number (1-based): the first step of the window
  // (or the first one in it, for a run resumed inside it) starts the profiler; the last one
  // stops it and writes the trace atomically.
  void before_step(int64_t step);
  void after_step(int64_t step);
  // Training ended (its last epoch, or a stop signal) inside the window: writes what was
  // recorded and says so. Nothing when the window is done or never started.
  void end_of_training();

 private:
  void start(int64_t step);
  void finish(int64_t last_step);

  StepWindow window_;
  std::string trace_path_;
  int rank_;
  int world_size_;
  std::string backend_;
  torch::Device device_;
  bool active_ = false;
  bool done_ = false;
  int64_t first_recorded_ = 0;
  int64_t last_recorded_ = 0;
  std::unique_ptr<at::RecordFunction> step_range_;  // "ProfilerStep#<step>"
};

}  // namespace nxt
