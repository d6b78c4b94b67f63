// NVTX ranges, so that an Nsight Systems timeline of nxt reads like the training step (data,
// forward, backward, each gradient bucket's all-reduce, optimizer, checkpoint). NVTX 3 is
// header-only (the CUDA toolkit's nvtx3/): a range costs a call into a no-op until a tool such
// as `nsys profile` injects itself, so the ranges stay in the code. They are compiled in the
// CUDA build only (NXT_HAVE_NVTX) and switched on at run time by set_nvtx_enabled(), which the
// programs call for a CUDA device: on a CPU run a range does nothing.
#pragma once

#if defined(NXT_HAVE_NVTX)
#include <nvtx3/nvToolsExt.h>
#endif

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

// A range on the calling thread from construction to destruction (push/pop: ranges nest).
class NvtxRange {
 public:
  explicit NvtxRange(const char* name) {
#if defined(NXT_HAVE_NVTX)
    if ((active_ = nvtx_enabled())) nvtxRangePushA(name);
#else
    (void)name;
#endif
  }
  explicit NvtxRange(const std::string& name) : NvtxRange(name.c_str()) {}
  ~NvtxRange() {
#if defined(NXT_HAVE_NVTX)
    if (active_) nvtxRangePop();
#endif
  }
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;

 private:
  bool active_ = false;
};

}  // namespace nxt
