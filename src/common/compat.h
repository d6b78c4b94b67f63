// The few LibTorch API differences between Debian's 1.13 (CPU) and a CUDA LibTorch 2.x, in one
// place. Everything else in nxt is written against the API common to both.
#pragma once
#include <ATen/Version.h>
#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <sstream>
#include <string>
#include <type_traits>
#include <utility>

#define NXT_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||      \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace nxt::compat {

// The owning pointer to an autograd node that grad_accumulator() returns: std::shared_ptr in
// 1.13 to 2.x, c10::intrusive_ptr in 2.15. Holding it keeps a gradient hook alive.
using GradAccumulatorPtr =
    decltype(torch::autograd::impl::grad_accumulator(std::declval<const at::Tensor&>()));

// Conv padding is a c10::variant in 1.13 and a std::variant in 2.x.
template <class PaddingVariant>
int64_t explicit_padding(const PaddingVariant& padding, size_t dim) {
#if NXT_TORCH_AT_LEAST(2, 1)
  return (*std::get<torch::ExpandingArray<2>>(padding))[dim];
#else
  return (*c10::get<torch::ExpandingArray<2>>(padding))[dim];
#endif
}

// Turns CUDA autocast on or off with the given low-precision dtype (bf16 in nxt).
// 2.4 replaced set_enabled/set_autocast_gpu_dtype with per-device-type calls.
inline void set_cuda_autocast(bool enabled, c10::ScalarType dtype) {
#if NXT_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(at::kCUDA, enabled);
  at::autocast::set_autocast_dtype(at::kCUDA, dtype);
#else
  at::autocast::set_enabled(enabled);
  at::autocast::set_autocast_gpu_dtype(dtype);
#endif
  if (!enabled) at::autocast::clear_cache();
}

// Scoped CUDA autocast: on for the lifetime of the guard (when `enabled`), restored after.
class CudaAutocastGuard {
 public:
  CudaAutocastGuard(bool enabled, c10::ScalarType dtype) : enabled_(enabled) {
    if (enabled_) set_cuda_autocast(true, dtype);
  }
  ~CudaAutocastGuard() {
    if (enabled_) set_cuda_autocast(false, c10::ScalarType::BFloat16);
  }
  CudaAutocastGuard(const CudaAutocastGuard&) = delete;
  CudaAutocastGuard& operator=(const CudaAutocastGuard&) = delete;

 private:
  bool enabled_;
};

// The key of parameter `p` in a torch::optim::Optimizer's state map (what a subclass's step()
// finds the parameter's state under): the address of its TensorImpl, printed to a string in
// 1.13 and kept as a pointer in 2.x. Decided from the map's key type, not from a version number.
template <class StateMap>
typename StateMap::key_type optimizer_state_key(const at::Tensor& p) {
  if constexpr (std::is_same_v<typename StateMap::key_type, std::string>) {
    std::ostringstream address;  // as c10::guts::to_string in 1.13's optimizers
    address << p.unsafeGetTensorImpl();
    return address.str();
  } else {
    return p.unsafeGetTensorImpl();
  }
}

// Whether this LibTorch can write a profiler trace (run.profile_steps): it must be built with
// Kineto. The PyTorch wheels are; Debian's 1.13 is not (its profiler collects events but refuses
// to save a trace). The constant that says so (kKinetoAvailable) is in a header that needs
// libkineto's headers, which neither ships, so the build's own flags are asked at run time.
inline bool kineto_traces_available() {
  return at::show_config().find("-DUSE_KINETO") != std::string::npos;
}

}  // namespace nxt::compat
