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

// The learning rate of an optimizer step as a pure function of how far training is, in epochs,
// not of a step count: the step count of an epoch changes with the world size, the fraction
// does not. So a resumed run continues the schedule exactly, even on another number of ranks
// (Note [World-size-independent epochs] in data/sampler.h).
class LrSchedule {
 public:
  // `base_lr` after scaling.
  LrSchedule(const OptimConfig& config, double base_lr, int64_t epochs);
  // The step that ends with `epoch_fraction` (in (0, 1]) of epoch `epoch` done: warmup and
  // cosine follow epoch + epoch_fraction (so the last step of the run gets min_lr exactly);
  // the step schedule follows the epoch index.
  double at(int64_t epoch, double epoch_fraction) const;
  double base_lr() const { return base_lr_; }

 private:
  OptimConfig config_;
  double base_lr_;
  int64_t epochs_;
};

// optim.lr, scaled by the linear rule when optim.scale_lr is linear.
double scaled_lr(const OptimConfig& config, int64_t global_batch);

void set_lr(torch::optim::Optimizer& optimizer, double lr);

}  // namespace nxt
