// Implements device-side gradient clipping.
#include "train/grad_clip.h"

namespace nxt {

torch::Tensor clip_grad_norm_on_device(const std::vector<torch::Tensor>& parameters,
                                       double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : parameters)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return {};
  // Per-gradient norms, then the norm of those: clip_grad_norm_'s own order of summation, so
  // both give the same total to the last bits.
  std::vector<torch::Tensor> norms;
  norms.reserve(grads.size());
  for (const auto& g : grads) norms.push_back(g.norm(2));
  const torch::Tensor total = norms.size() == 1 ? norms[0] : torch::stack(norms).norm(2);
  // A factor of 1 when the norm is within bounds: a multiply instead of a host-side branch.
  const torch::Tensor factor = torch::clamp_max(max_norm / (total + 1e-6), 1.0);
  for (auto& g : grads) g.mul_(factor);
  return total;
}

}  // namespace nxt
