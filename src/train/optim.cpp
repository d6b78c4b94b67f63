// Implements optimizer construction (two parameter groups when decay is selective) and the
// schedules.
#include "train/optim.h"

#include <algorithm>
#include <cmath>

#include "common/check.h"

namespace nxt {
namespace {

// BatchNorm weights and biases, and every bias: one-dimensional parameters.
bool exempt_from_decay(const torch::Tensor& parameter) {
  return parameter.dim() <= 1;
}

std::vector<torch::optim::OptimizerParamGroup> parameter_groups(const OptimConfig& config,
                                                                torch::nn::Module& model) {
  std::vector<torch::Tensor> decayed, exempt;
  for (auto& p : model.parameters())
    (config.decay_bn_and_bias || !exempt_from_decay(p) ? decayed : exempt).push_back(p);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decayed);
  if (!exempt.empty()) groups.emplace_back(exempt);
  return groups;
}

template <class Options>
void set_group_decay(torch::optim::Optimizer& optimizer, double weight_decay) {
  auto& groups = optimizer.param_groups();
  for (size_t g = 0; g < groups.size(); ++g)
    static_cast<Options&>(groups[g].options()).weight_decay(g == 0 ? weight_decay : 0.0);
}

}  // namespace

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimConfig& config,
                                                        torch::nn::Module& model, double lr) {
  auto groups = parameter_groups(config, model);
  if (config.name == "sgd") {
    auto optimizer = std::make_unique<torch::optim::SGD>(
        groups, torch::optim::SGDOptions(lr).momentum(config.momentum).nesterov(config.nesterov));
    set_group_decay<torch::optim::SGDOptions>(*optimizer, config.weight_decay);
    return optimizer;
  }
  if (config.name == "adamw") {
    auto optimizer = std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(lr));
    set_group_decay<torch::optim::AdamWOptions>(*optimizer, config.weight_decay);
    return optimizer;
  }
  NXT_CHECK(config.name == "adam", "optim.name: unknown optimizer '", config.name, "'");
  auto optimizer = std::make_unique<torch::optim::Adam>(groups, torch::optim::AdamOptions(lr));
  set_group_decay<torch::optim::AdamOptions>(*optimizer, config.weight_decay);
  return optimizer;
}

double scaled_lr(const OptimConfig& config, int64_t global_batch) {
  if (config.scale_lr != "linear") return config.lr;
  return config.lr * static_cast<double>(global_batch) / static_cast<double>(config.base_batch);
}

LrSchedule::LrSchedule(const OptimConfig& config, double base_lr, int64_t epochs)
    : config_(config), base_lr_(base_lr), epochs_(epochs) {}

double LrSchedule::at(int64_t epoch, double epoch_fraction) const {
  const double done = static_cast<double>(epoch) + epoch_fraction;
  if (done < config_.warmup_epochs) return base_lr_ * done / config_.warmup_epochs;
  if (config_.schedule == "step")
    return base_lr_ * std::pow(config_.step_gamma,
                               static_cast<double>(epoch / config_.step_every_epochs));
  if (config_.schedule == "cosine") {
    const double span = std::max(1e-9, static_cast<double>(epochs_) - config_.warmup_epochs);
    const double progress = std::clamp((done - config_.warmup_epochs) / span, 0.0, 1.0);
    return config_.min_lr + 0.5 * (base_lr_ - config_.min_lr) * (1 + std::cos(M_PI * progress));
  }
  return base_lr_;
}

void set_lr(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

}  // namespace nxt
