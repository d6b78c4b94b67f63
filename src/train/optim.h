// Optimizers and learning-rate schedules from the config: Adam (the notebook's), AdamW and SGD
// with momentum/Nesterov; weight decay with BatchNorm and bias parameters excluded unless asked;
// constant, step and cosine schedules with linear warmup, and the linear-scaling rule.
#pragma once
#include <memory>

#include "common/config.h"
#include "common/torch_pch.h"

namespace nxt {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimConfig& config,
                                                        torch::nn::Module& model, double lr);

// The learning rate at each optimizer step: a pure function, so a resumed run continues the
// schedule exactly.
class LrSchedule {
 public:
  // `base_lr` after scaling; `steps_per_epoch` optimizer steps.
  LrSchedule(const OptimConfig& config, double base_lr, int64_t epochs, int64_t steps_per_epoch);
  double at(int64_t step) const;

 private:
  OptimConfig config_;
  double base_lr_;
  int64_t total_steps_, steps_per_epoch_, warmup_steps_;
};

// optim.lr, scaled by the linear rule when optim.scale_lr is linear.
double scaled_lr(const OptimConfig& config, int64_t global_batch);

void set_lr(torch::optim::Optimizer& optimizer, double lr);

}  // namespace nxt
