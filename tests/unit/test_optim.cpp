// Tests the optimizers of train/optim.h and train/foreach_optimizer.h: the multi-tensor Adam,
// AdamW and SGD+Nesterov against LibTorch's torch::optim over several steps, with the weight
// decay exemption and two learning-rate groups built independently here; optimizer archives
// that move between the two; LARS against a hand computation; and the optim.max_lr cap.
#include <gtest/gtest.h>

#include <functional>

#include "checkpoint/checkpoint.h"
#include "train/foreach_optimizer.h"
#include "train/optim.h"

namespace nxt {
namespace {

// A conv with bias, a BatchNorm and a linear head: decayed and exempt parameters in both the
// backbone and the head.
struct TinyNet : torch::nn::Module {
  TinyNet() {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3)));
    bn = register_module("bn", torch::nn::BatchNorm2d(4));
    fc = register_module("fc", torch::nn::Linear(4, 5));
    torch::NoGradGuard no_grad;
    // BatchNorm starts at 1 and 0: different values, so a wrong update shows in every tensor.
    for (auto& p : parameters()) p.copy_(torch::randn_like(p));
  }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::Linear fc{nullptr};
};

constexpr double kBackboneMult = 0.1;
constexpr double kDecay = 0.05;

OptimConfig config_for(OptimizerKind name) {
  OptimConfig config;
  config.name = name;
  config.weight_decay = kDecay;
  config.backbone_lr_mult = kBackboneMult;
  config.momentum = 0.9;
  config.nesterov = true;
  return config;
}

// `net`'s parameter groups as the config asks, written out here rather than taken from
// make_optimizer: decayed (more than one dimension) or not, head (fc) or backbone.
struct ReferenceGroups {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  std::vector<double> multipliers, decays;
};
ReferenceGroups reference_groups(TinyNet& net) {
  ReferenceGroups made;
  const auto head = net.fc->parameters();
  for (const bool decayed : {true, false}) {
    for (const bool in_head : {true, false}) {
      std::vector<torch::Tensor> params;
      for (auto& p : net.parameters())
        if ((p.dim() > 1) == decayed && is_one_of(p, head) == in_head) params.push_back(p);
      made.groups.emplace_back(params);
      made.multipliers.push_back(in_head ? 1.0 : kBackboneMult);
      made.decays.push_back(decayed ? kDecay : 0.0);
    }
  }
  return made;
}

template <class Optimizer, class Options>
GroupedOptimizer reference_optimizer(TinyNet& net, Options options) {
  ReferenceGroups made = reference_groups(net);
  GroupedOptimizer built{std::make_unique<Optimizer>(made.groups, options), made.multipliers};
  auto& groups = built.optimizer->param_groups();
  for (size_t g = 0; g < groups.size(); ++g)
    static_cast<Options&>(groups[g].options()).weight_decay(made.decays[g]);
  return built;
}

GroupedOptimizer torch_optim_for(const OptimConfig& config, TinyNet& net) {
  switch (config.name) {
    case OptimizerKind::kAdam:
      return reference_optimizer<torch::optim::Adam>(net, torch::optim::AdamOptions(1));
    case OptimizerKind::kAdamW:
      return reference_optimizer<torch::optim::AdamW>(net, torch::optim::AdamWOptions(1));
    case OptimizerKind::kSgd:
      return reference_optimizer<torch::optim::SGD>(
          net, torch::optim::SGDOptions(1).momentum(config.momentum).nesterov(config.nesterov));
    case OptimizerKind::kLars:
      break;
  }
  throw std::logic_error("no torch::optim reference for this optimizer");
}

void copy_parameters(TinyNet& from, TinyNet& to) {
  torch::NoGradGuard no_grad;
  auto source = from.parameters();
  auto target = to.parameters();
  for (size_t i = 0; i < source.size(); ++i) target[i].copy_(source[i]);
}

double relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max()).item<double>();
}

// Agreement to float rounding: the CPU's one-pass Adam (Note [Adam in one pass on the CPU] in
// src/train/foreach_optimizer.cpp) rounds differently from torch::optim's ops, up to 2.5e-6 of
// the largest parameter after six steps at these learning rates; a wrong update is 1e-4 or more
// (ComparisonDetectsADroppedExemption).
void expect_same_parameters(TinyNet& fast, TinyNet& reference, const std::string& when) {
  auto a = fast.parameters();
  auto b = reference.parameters();
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_LE(relative_difference(a[i], b[i]), 1e-5) << when << ", parameter " << i;
}

// One step on both nets with the same gradients and the learning rate `lr`. `frozen_backbone`:
// only the head has gradients (the others skip the step, as a frozen backbone does).
void step_both(GroupedOptimizer& fast, TinyNet& fast_net, GroupedOptimizer& reference,
               TinyNet& reference_net, double lr, bool frozen_backbone) {
  auto a = fast_net.parameters();
  auto b = reference_net.parameters();
  const auto head = fast_net.fc->parameters();
  for (size_t i = 0; i < a.size(); ++i) {
    if (frozen_backbone && !is_one_of(a[i], head)) {
      a[i].mutable_grad() = torch::Tensor();
      b[i].mutable_grad() = torch::Tensor();
      continue;
    }
    const torch::Tensor grad = torch::randn_like(a[i]);
    a[i].mutable_grad() = grad.clone();
    b[i].mutable_grad() = grad.clone();
  }
  fast.set_lr(lr);
  reference.set_lr(lr);
  fast.optimizer->step();
  reference.optimizer->step();
}

// Six steps of make_optimizer's optimizer and torch::optim's from the same start, with a changing
// lr and a backbone frozen for the first two steps; the parameters agree after every step.
// Halfway, each optimizer's archive is loaded into the other, which then continues.
void expect_matches_torch_optim(OptimizerKind name) {
  torch::manual_seed(7);
  const OptimConfig config = config_for(name);
  TinyNet fast_net, reference_net;
  copy_parameters(fast_net, reference_net);
  GroupedOptimizer fast = make_optimizer(config, fast_net, 0.1, fast_net.fc->parameters());
  GroupedOptimizer reference = torch_optim_for(config, reference_net);
  ASSERT_EQ(fast.optimizer->param_groups().size(), 4U);
  const torch::Tensor start =
      torch::cat({fast_net.conv->weight.flatten(), fast_net.bn->bias}).clone();
  const std::vector<double> lrs = {0.1, 0.05, 0.2, 0.1, 0.03, 0.3};
  for (size_t step = 0; step < lrs.size(); ++step) {
    if (step == 3) {  // archives cross over: LibTorch's format, read by either
      const std::vector<char> fast_bytes = optimizer_bytes(*fast.optimizer);
      const std::vector<char> reference_bytes = optimizer_bytes(*reference.optimizer);
      load_optimizer_bytes(*fast.optimizer, reference_bytes, "reference", torch::kCPU);
      load_optimizer_bytes(*reference.optimizer, fast_bytes, "fast", torch::kCPU);
    }
    step_both(fast, fast_net, reference, reference_net, lrs[step], step < 2);
    expect_same_parameters(fast_net, reference_net, "after step " + std::to_string(step + 1));
  }
  // The backbone moved too: an optimizer that skipped it would also have agreed.
  EXPECT_GT(
      relative_difference(torch::cat({fast_net.conv->weight.flatten(), fast_net.bn->bias}), start),
      1e-3);
}

// Each with CPU's batches of one tensor, then with a GPU's batches of a whole group.
void expect_matches_torch_optim_in_either_batching(OptimizerKind name) {
  {
    SCOPED_TRACE("batches of one tensor");
    expect_matches_torch_optim(name);
  }
  SCOPED_TRACE("whole-group batches");
  WholeGroupBatchesOnCpu whole_groups;
  expect_matches_torch_optim(name);
}

TEST(ForeachOptimizer, AdamMatchesTorchOptim) {
  expect_matches_torch_optim_in_either_batching(OptimizerKind::kAdam);
}

TEST(ForeachOptimizer, AdamWMatchesTorchOptim) {
  expect_matches_torch_optim_in_either_batching(OptimizerKind::kAdamW);
}

TEST(ForeachOptimizer, SgdNesterovMatchesTorchOptim) {
  expect_matches_torch_optim_in_either_batching(OptimizerKind::kSgd);
}

// The comparison above can fail: torch::optim with the decay exemption dropped (every group
// decayed) ends elsewhere than the fast optimizer.
TEST(ForeachOptimizer, ComparisonDetectsADroppedExemption) {
  torch::manual_seed(7);
  const OptimConfig config = config_for(OptimizerKind::kAdam);
  TinyNet fast_net, reference_net;
  copy_parameters(fast_net, reference_net);
  GroupedOptimizer fast = make_optimizer(config, fast_net, 0.1, fast_net.fc->parameters());
  GroupedOptimizer reference = torch_optim_for(config, reference_net);
  for (auto& group : reference.optimizer->param_groups())
    static_cast<torch::optim::AdamOptions&>(group.options()).weight_decay(kDecay);
  for (int step = 0; step < 3; ++step)
    step_both(fast, fast_net, reference, reference_net, 0.1, false);
  EXPECT_GT(relative_difference(fast_net.bn->bias, reference_net.bn->bias), 1e-4);
  EXPECT_LE(relative_difference(fast_net.conv->weight, reference_net.conv->weight), 1e-6);
}

// A linear layer's weight (LARS-adapted, decayed) and bias (neither), two steps by hand; and a
// second weight, so that a whole-group batch holds two tensors (on a CPU only when asked).
void expect_lars_matches_a_hand_computation() {
  torch::manual_seed(3);
  torch::nn::Sequential layers(torch::nn::Linear(3, 2), torch::nn::Linear(2, 4));
  torch::nn::Linear layer = layers->ptr<torch::nn::LinearImpl>(0);
  OptimConfig config;
  config.name = OptimizerKind::kLars;
  config.weight_decay = 0.01;
  config.lars_eta = 0.02;
  config.momentum = 0.9;
  const double lr = 0.5;
  GroupedOptimizer lars = make_optimizer(config, *layers, lr);
  for (auto& p : layers[1]->parameters()) p.mutable_grad() = torch::ones_like(p);
  const torch::Tensor w0 = layer->weight.detach().to(torch::kDouble);
  const torch::Tensor b0 = layer->bias.detach().to(torch::kDouble);
  const torch::Tensor gw1 = torch::randn({2, 3}), gb1 = torch::randn({2});
  const torch::Tensor gw2 = torch::randn({2, 3}), gb2 = torch::randn({2});

  const auto trust = [&config](const torch::Tensor& w, const torch::Tensor& g) {
    const double wn = w.norm().item<double>();
    const double gn = g.norm().item<double>();
    return config.lars_eta * wn / (gn + config.weight_decay * wn);
  };
  // Step 1: the momentum buffer is the first direction.
  const torch::Tensor dw1 =
      trust(w0, gw1.to(torch::kDouble)) * (gw1.to(torch::kDouble) + config.weight_decay * w0);
  const torch::Tensor w1 = w0 - lr * dw1;
  const torch::Tensor b1 = b0 - lr * gb1.to(torch::kDouble);  // no trust ratio, no decay
  // Step 2: buf = momentum x buf + direction.
  const torch::Tensor dw2 =
      trust(w1, gw2.to(torch::kDouble)) * (gw2.to(torch::kDouble) + config.weight_decay * w1);
  const torch::Tensor w2 = w0 - lr * dw1 - lr * (config.momentum * dw1 + dw2);
  const torch::Tensor b2 = b1 - lr * (config.momentum * gb1 + gb2).to(torch::kDouble);

  layer->weight.mutable_grad() = gw1.clone();
  layer->bias.mutable_grad() = gb1.clone();
  lars.optimizer->step();
  EXPECT_LE(relative_difference(layer->weight.detach().to(torch::kDouble), w1), 1e-6);
  EXPECT_LE(relative_difference(layer->bias.detach().to(torch::kDouble), b1), 1e-6);
  layer->weight.mutable_grad() = gw2.clone();
  layer->bias.mutable_grad() = gb2.clone();
  lars.optimizer->step();
  EXPECT_LE(relative_difference(layer->weight.detach().to(torch::kDouble), w2), 1e-6);
  EXPECT_LE(relative_difference(layer->bias.detach().to(torch::kDouble), b2), 1e-6);
  // The trust ratio mattered: plain SGD would have moved the weight by far more.
  EXPECT_GT(relative_difference(w0 - lr * (gw1.to(torch::kDouble) + config.weight_decay * w0), w1),
            1e-2);
}

TEST(Lars, TwoStepsMatchAHandComputation) {
  {
    SCOPED_TRACE("batches of one tensor");
    expect_lars_matches_a_hand_computation();
  }
  SCOPED_TRACE("whole-group batches");
  WholeGroupBatchesOnCpu whole_groups;
  expect_lars_matches_a_hand_computation();
}

// The archive of LARS is SGD's: it loads into torch::optim::SGD over the same groups.
TEST(Lars, ArchiveIsSgds) {
  torch::nn::Linear layer(3, 2);
  OptimConfig config;
  config.name = OptimizerKind::kLars;
  GroupedOptimizer lars = make_optimizer(config, *layer, 0.1);
  for (auto& p : layer->parameters()) p.mutable_grad() = torch::ones_like(p);
  lars.optimizer->step();
  config.name = OptimizerKind::kSgd;
  GroupedOptimizer sgd = make_optimizer(config, *layer, 0.1);
  load_optimizer_bytes(*sgd.optimizer, optimizer_bytes(*lars.optimizer), "lars", torch::kCPU);
  EXPECT_EQ(sgd.optimizer->state().size(), 2U);
}

TEST(LrSchedule, MaxLrCapsAfterScalingAndWarmup) {
  OptimConfig config;
  config.lr = 0.1;
  config.scale_lr = LrScaling::kLinear;
  config.base_batch = 256;
  config.warmup_epochs = 2;
  config.schedule = ScheduleKind::kCosine;
  config.max_lr = 3.2;
  const double lr = scaled_lr(config, 16384);  // 6.4: the 64-GPU figure
  EXPECT_DOUBLE_EQ(lr, 6.4);
  const LrSchedule capped(config, lr, 90);
  EXPECT_TRUE(capped.capped());
  EXPECT_DOUBLE_EQ(capped.at(0, 0.5), 1.6);  // warmup below the cap: untouched
  EXPECT_DOUBLE_EQ(capped.at(1, 0.5), 3.2);  // warmup at 4.8: capped
  EXPECT_DOUBLE_EQ(capped.at(10, 0.0), 3.2);
  EXPECT_LT(capped.at(89, 1.0), 3.2);  // cosine's end is below the cap
  config.max_lr = 0;                   // no cap
  const LrSchedule uncapped(config, lr, 90);
  EXPECT_FALSE(uncapped.capped());
  EXPECT_DOUBLE_EQ(uncapped.at(2, 0.0), 6.4);
  config.max_lr = 10;  // a cap above the schedule changes nothing
  EXPECT_FALSE(LrSchedule(config, lr, 90).capped());
  EXPECT_DOUBLE_EQ(LrSchedule(config, lr, 90).at(2, 0.0), 6.4);
}

}  // namespace
}  // namespace nxt
