// Gradient clipping to a global L2 norm that stays on the gradients' device: LibTorch's
// clip_grad_norm_ returns the norm as a double, which makes every clipped step wait for the GPU
// (the step reads nothing off the device: StepMetrics in train/metrics.h).
#pragma once
#include <vector>

#include "common/torch_pch.h"

namespace nxt {

// Scales every defined gradient of `parameters` by min(1, max_norm / (norm + 1e-6)), where norm
// is the L2 norm of all of them together: the same arithmetic as
// torch::nn::utils::clip_grad_norm_(parameters, max_norm), without reading anything back.
// Returns the total norm as a 0-dim tensor on the gradients' device (undefined when no
// parameter has a gradient); reading it is the caller's choice, and a sync.
torch::Tensor clip_grad_norm_on_device(const std::vector<torch::Tensor>& parameters,
                                       double max_norm);

}  // namespace nxt
