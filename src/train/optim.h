// Optimizers and learning-rate schedules from the config: Adam (the notebook's), AdamW, SGD
// with momentum/Nesterov and LARS, all multi-tensor (train/foreach_optimizer.h); weight decay
// with BatchNorm and bias parameters excluded unless asked; constant, step and cosine schedules
// with linear warmup, the linear-scaling rule and an lr cap.
#pragma once
#include <memory>
#include <vector>

#include "common/config.h"
#include "common/torch_pch.h"

namespace nxt {

// The optimizer and the learning-rate multiplier of each of its parameter groups: 1 for the
// head, optim.backbone_lr_mult for the rest (fine-tuning a pretrained backbone more gently).
struct GroupedOptimizer {
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::vector<double> lr_multipliers;  // per parameter group
  // Group g learns at lr * lr_multipliers[g].
  void set_lr(double lr);
};

// Whether `tensor` is one of `tensors` (the same tensor, not an equal one): the head's
// parameters among a model's.
bool is_one_of(const torch::Tensor& tensor, const std::vector<torch::Tensor>& tensors);

// All of `model`'s parameters, frozen ones included (they have no gradient while frozen, and
// the optimizer skips them); `head`: the classifier's parameters.
GroupedOptimizer make_optimizer(const OptimConfig& config, torch::nn::Module& model, double lr,
                                const std::vector<torch::Tensor>& head = {});

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
  // the step schedule follows the epoch index. At most optim.max_lr (when not 0): the cap
  // applies after scaling and warmup, to the lr the schedule gives.
  double at(int64_t epoch, double epoch_fraction) const;
  double base_lr() const { return base_lr_; }
  // Whether optim.max_lr cuts the schedule: the scaled lr exceeds it.
  bool capped() const;

 private:
  double uncapped_at(int64_t epoch, double epoch_fraction) const;

  OptimConfig config_;
  double base_lr_;
  int64_t epochs_;
};

// optim.lr, scaled by the linear rule when optim.scale_lr is linear.
double scaled_lr(const OptimConfig& config, int64_t global_batch);

}  // namespace nxt
