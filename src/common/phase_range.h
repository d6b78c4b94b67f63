// Phase ranges: the training step's named phases (data, forward, backward, each gradient
// bucket's all-reduce, optimizer, checkpoint) as ranges that two kinds of tool see:
//  - Nsight Systems, through NVTX 3 (header-only, the CUDA toolkit's nvtx3/): compiled in the
//    CUDA build only (NXT_HAVE_NVTX) and switched on by set_nvtx_enabled(), which the programs
//    call for a CUDA device. A range costs a call into a no-op until `nsys profile` injects
//    itself, so the ranges stay in the code;
//  - LibTorch's profiler (Kineto; run.profile_steps, train/step_profiler.h), through a
//    user-scope RecordFunction: the range lands in the rank's Chrome/Perfetto trace as a
//    user_annotation around the aten ops it holds. When no profiler runs, constructing it is a
//    check of the thread's callbacks and nothing is recorded.
#pragma once

#if defined(NXT_HAVE_NVTX)
#include <nvtx3/nvToolsExt.h>
#endif

#include <ATen/record_function.h>

#include <atomic>
#include <string>

namespace nxt {

inline std::atomic<bool>& nvtx_enabled_flag() {
  static std::atomic<bool> enabled{false};
  return enabled;
}

// On for a CUDA run (configure_rank() decides); off by default.
inline void set_nvtx_enabled(bool enabled) {
#if defined(NXT_HAVE_NVTX)
  nvtx_enabled_flag() = enabled;
#else
  (void)enabled;
#endif
}

inline bool nvtx_enabled() {
  return nvtx_enabled_flag().load(std::memory_order_relaxed);
}

// Whether a range started now on this thread would be recorded by some tool: a caller that
// builds a range's name (a string per call) asks first.
inline bool phase_ranges_recorded() {
  return nvtx_enabled() || at::hasCallbacks();
}

// A range on the calling thread from construction to destruction (ranges nest). Both tools
// copy `name` when the range starts (RecordFunction keeps a std::string in 1.13 and 2.x), so a
// temporary string may be passed.
class PhaseRange {
 public:
  explicit PhaseRange(const std::string& name) : record_(at::RecordScope::USER_SCOPE) {
    if (record_.isActive()) record_.before(name.c_str());
#if defined(NXT_HAVE_NVTX)
    if ((nvtx_active_ = nvtx_enabled())) nvtxRangePushA(name.c_str());
#endif
  }
  ~PhaseRange() {
#if defined(NXT_HAVE_NVTX)
    if (nvtx_active_) nvtxRangePop();
#endif
  }
  PhaseRange(const PhaseRange&) = delete;
  PhaseRange& operator=(const PhaseRange&) = delete;

 private:
  at::RecordFunction record_;  // ends the profiler's range in its destructor
  bool nvtx_active_ = false;
};

}  // namespace nxt
