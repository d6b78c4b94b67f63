// Implements the bounded wait for a device's current stream with a recorded CUDA event.
#include "comm/device_wait.h"

#if defined(NXT_TORCH_HAS_CUDA)
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAStream.h>

#include "comm/cuda_query.h"
#endif

namespace nxt {

void wait_for_device(const torch::Device& device, const DeviceWaitLimit& limit,
                     const std::string& what) {
#if defined(NXT_TORCH_HAS_CUDA)
  if (!device.is_cuda()) return;
  at::cuda::CUDAEvent done;
  done.record(c10::cuda::getCurrentCUDAStream(device.index()));
  wait_for_cuda_event(done.event(), limit.timeout, limit.rank, what, limit.key);
#else
  (void)device, (void)limit, (void)what;
#endif
}

}  // namespace nxt
