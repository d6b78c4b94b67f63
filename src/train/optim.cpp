// Implements optimizer construction (parameter groups by weight decay and, for fine-tuning, by
// head and backbone learning rate; the multi-tensor optimizers of train/foreach_optimizer.h) and
// the schedules.
#include "train/optim.h"

#include <algorithm>
#include <cmath>

#include "common/check.h"
#include "train/foreach_optimizer.h"

namespace nxt {
namespace {

struct GroupPlan {
  std::vector<torch::Tensor> parameters;
  bool decayed = true;
  double lr_multiplier = 1;
};

// Decayed parameters first, then exempt ones; with a backbone multiplier other than 1 each of
// those splits again into the head (fc, multiplier 1) and the backbone. With the multiplier 1
// the groups are those of nxt before fine-tuning, so its optimizer archives still load.
std::vector<GroupPlan> plan_groups(const OptimConfig& config, torch::nn::Module& model,
                                   const std::vector<torch::Tensor>& head) {
  const auto in_head = [&head](const torch::Tensor& p) { return is_one_of(p, head); };
  const bool split_head = config.backbone_lr_mult != 1.0;
  std::vector<GroupPlan> plans;
  for (const bool decayed : {true, false}) {
    for (const bool head_group :
         split_head ? std::vector<bool>{true, false} : std::vector<bool>{false}) {
      GroupPlan plan{{}, decayed, head_group || !split_head ? 1.0 : config.backbone_lr_mult};
      for (auto& p : model.parameters()) {
        // Note [BatchNorm and bias parameters]
        const bool decays = config.decay_bn_and_bias || !is_bn_or_bias(p);
        if (decays == decayed && (!split_head || in_head(p) == head_group))
          plan.parameters.push_back(p);
      }
      if (!plan.parameters.empty()) plans.push_back(std::move(plan));
    }
  }
  return plans;
}

// `extra`: arguments of Optimizer's constructor after the groups and the options.
template <class Optimizer, class Options, class... Extra>
GroupedOptimizer build(const std::vector<GroupPlan>& plans, Options options, double weight_decay,
                       Extra... extra) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (const auto& plan : plans) groups.emplace_back(plan.parameters);
  GroupedOptimizer built{std::make_unique<Optimizer>(groups, options, extra...), {}};
  auto& made = built.optimizer->param_groups();
  for (size_t g = 0; g < plans.size(); ++g) {
    static_cast<Options&>(made[g].options()).weight_decay(plans[g].decayed ? weight_decay : 0.0);
    built.lr_multipliers.push_back(plans[g].lr_multiplier);
  }
  return built;
}

}  // namespace

bool is_one_of(const torch::Tensor& tensor, const std::vector<torch::Tensor>& tensors) {
  return std::any_of(tensors.begin(), tensors.end(),
                     [&tensor](const torch::Tensor& t) { return t.is_same(tensor); });
}

GroupedOptimizer make_optimizer(const OptimConfig& config, torch::nn::Module& model, double lr,
                                const std::vector<torch::Tensor>& head) {
  const std::vector<GroupPlan> plans = plan_groups(config, model, head);
  GroupedOptimizer built;
  const auto sgd_options =
      torch::optim::SGDOptions(lr).momentum(config.momentum).nesterov(config.nesterov);
  // The multi-tensor optimizers: torch::optim's updates, batched (Note [Foreach optimizers]).
  switch (config.name) {
    case OptimizerKind::kSgd:
      built = build<ForeachSgd>(plans, sgd_options, config.weight_decay);
      break;
    case OptimizerKind::kLars:
      built = build<Lars>(plans, sgd_options, config.weight_decay, config.lars_eta);
      break;
    case OptimizerKind::kAdamW:
      built = build<ForeachAdamW>(plans, torch::optim::AdamWOptions(lr), config.weight_decay);
      break;
    case OptimizerKind::kAdam:
      built = build<ForeachAdam>(plans, torch::optim::AdamOptions(lr), config.weight_decay);
      break;
  }
  built.set_lr(lr);
  return built;
}

void GroupedOptimizer::set_lr(double lr) {
  auto& groups = optimizer->param_groups();
  for (size_t g = 0; g < groups.size(); ++g) groups[g].options().set_lr(lr * lr_multipliers[g]);
}

double scaled_lr(const OptimConfig& config, int64_t global_batch) {
  if (config.scale_lr != LrScaling::kLinear) return config.lr;
  return config.lr * static_cast<double>(global_batch) / static_cast<double>(config.base_batch);
}

LrSchedule::LrSchedule(const OptimConfig& config, double base_lr, int64_t epochs)
    : config_(config), base_lr_(base_lr), epochs_(epochs) {}

double LrSchedule::at(int64_t epoch, double epoch_fraction) const {
  const double lr = uncapped_at(epoch, epoch_fraction);
  return config_.max_lr > 0 ? std::min(lr, config_.max_lr) : lr;
}

bool LrSchedule::capped() const {
  return config_.max_lr > 0 && base_lr_ > config_.max_lr;
}

double LrSchedule::uncapped_at(int64_t epoch, double epoch_fraction) const {
  const double done = static_cast<double>(epoch) + epoch_fraction;
  if (done < config_.warmup_epochs) return base_lr_ * done / config_.warmup_epochs;
  switch (config_.schedule) {
    case ScheduleKind::kStep:
      return base_lr_ *
             std::pow(config_.step_gamma, static_cast<double>(epoch / config_.step_every_epochs));
    case ScheduleKind::kCosine: {
      const double span = std::max(1e-9, static_cast<double>(epochs_) - config_.warmup_epochs);
      const double progress = std::clamp((done - config_.warmup_epochs) / span, 0.0, 1.0);
      return config_.min_lr + 0.5 * (base_lr_ - config_.min_lr) * (1 + std::cos(M_PI * progress));
    }
    case ScheduleKind::kConstant:
      break;
  }
  return base_lr_;
}

}  // namespace nxt
