// Implements dynamic loss scaling (train/loss_scaler.h).
#include "train/loss_scaler.h"

#include <cmath>

#include "common/check.h"

namespace nxt {

LossScaler::LossScaler(const LossScalerOptions& options)
    : enabled_(true), options_(options), scale_(static_cast<float>(options.init_scale)) {
  NXT_CHECK(options.init_scale > 0 && options.growth_factor > 1 && options.backoff_factor > 0 &&
                options.backoff_factor < 1 && options.growth_interval > 0,
            "loss scaler: init_scale > 0, growth_factor > 1, 0 < backoff_factor < 1 and "
            "growth_interval > 0 are required");
}

torch::Tensor LossScaler::scale_loss(const torch::Tensor& loss) const {
  return enabled_ ? loss * static_cast<double>(scale_) : loss;
}

torch::Tensor LossScaler::unscale_and_check(const std::vector<torch::Tensor>& parameters) const {
  if (!enabled_) return {};
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : parameters)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return {};
  const auto options = grads.front().options().dtype(torch::kFloat);
  // GradScaler: inv_scale = scale.double().reciprocal().float().
  const double inv_scale = static_cast<double>(static_cast<float>(1.0 / scale_));
  torch::Tensor found_inf = torch::zeros({}, options);
  if (grads.front().is_cuda()) {  // the fused kernel GradScaler uses (CUDA in every LibTorch)
    at::_amp_foreach_non_finite_check_and_unscale_(grads, found_inf,
                                                   torch::full({}, inv_scale, options));
    return found_inf;
  }
  for (auto& g : grads) {
    g.mul_(inv_scale);
    found_inf = torch::maximum(found_inf, torch::isfinite(g).all().logical_not().to(torch::kFloat));
  }
  return found_inf;
}

bool LossScaler::update(bool found_inf) {
  if (!enabled_) return false;
  if (found_inf) {
    scale_ = static_cast<float>(scale_ * options_.backoff_factor);
    growth_tracker_ = 0;
    return true;
  }
  if (++growth_tracker_ == options_.growth_interval) {
    const float grown = static_cast<float>(scale_ * options_.growth_factor);
    if (std::isfinite(grown)) scale_ = grown;
    growth_tracker_ = 0;
  }
  return false;
}

void LossScaler::restore(const LossScalerState& state) {
  NXT_CHECK(state.scale > 0 && std::isfinite(state.scale) && state.growth_tracker >= 0,
            "loss scaler state: scale ", state.scale, ", growth tracker ", state.growth_tracker,
            " (a positive finite scale is required)");
  scale_ = static_cast<float>(state.scale);
  growth_tracker_ = state.growth_tracker;
}

}  // namespace nxt
