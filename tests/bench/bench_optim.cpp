// Benchmark (not a test): the optimizer step on ResNeXt-50's parameters (161 tensors, 25M
// values, 1000 classes) with random gradients, LibTorch's torch::optim against nxt's
// multi-tensor optimizers (train/foreach_optimizer.h), for SGD+Nesterov, Adam and AdamW, with
// BatchNorm and bias parameters in an undecayed group as nxt builds them; and on a CPU the
// multi-tensor optimizers in whole-group batches, as on a GPU (Note [Batches of a step]). They
// run interleaved in one process, so all see the same machine load; the table gives the median
// step time of each, the ratios to torch::optim's, and the largest relative difference of the
// parameters from torch::optim's after the run (all start equal and get the same gradients).
//   nxt_bench_optim [--steps N] [--rounds R] [--device cpu|cuda]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>

#include "model/build.h"
#include "model/summary.h"
#include "train/foreach_optimizer.h"

namespace nxt {
namespace {

using Clock = std::chrono::steady_clock;

// `params` in two groups, decayed (weight decay `decay`) and not (Note [BatchNorm and bias
// parameters]).
template <class Optimizer, class Options>
std::unique_ptr<torch::optim::Optimizer> make(const std::vector<torch::Tensor>& params,
                                              Options options, double decay) {
  std::vector<torch::Tensor> decayed, exempt;
  for (const auto& p : params) (is_bn_or_bias(p) ? exempt : decayed).push_back(p);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decayed);
  groups.emplace_back(exempt);
  auto optimizer = std::make_unique<Optimizer>(groups, options);
  static_cast<Options&>(optimizer->param_groups()[0].options()).weight_decay(decay);
  static_cast<Options&>(optimizer->param_groups()[1].options()).weight_decay(0.0);
  return optimizer;
}

// Seconds per step of `steps` steps.
double time_steps(torch::optim::Optimizer& optimizer, int steps, torch::Device device) {
  const auto sync = [device] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  sync();
  const auto start = Clock::now();
  for (int i = 0; i < steps; ++i) optimizer.step();
  sync();
  return std::chrono::duration<double>(Clock::now() - start).count() / steps;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

struct Setup {
  ResNeXt model;
  std::vector<torch::Tensor> params;
};

Setup resnext50(torch::Device device) {
  Setup setup{build_model(ModelConfig{}, 1000), {}};
  setup.model->to(device);
  setup.params = setup.model->parameters();
  return setup;
}

template <class Torch, class Foreach, class Options>
void bench(const std::string& name, const Options& options, int steps, int rounds,
           torch::Device device) {
  torch::manual_seed(1);
  Setup reference = resnext50(device), fast = resnext50(device), whole = resnext50(device);
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < fast.params.size(); ++i) {
      const torch::Tensor grad = torch::randn_like(reference.params[i]) * 1e-2;
      reference.params[i].mutable_grad() = grad.clone();
      for (Setup* copy : {&fast, &whole}) {
        copy->params[i].copy_(reference.params[i]);
        copy->params[i].mutable_grad() = grad.clone();
      }
    }
  }
  const double decay = 5e-5;
  auto torch_optim = make<Torch>(reference.params, options, decay);
  auto foreach = make<Foreach>(fast.params, options, decay);
  auto foreach_whole = make<Foreach>(whole.params, options, decay);
  const auto step_whole = [&foreach_whole](int count, torch::Device on) {
    WholeGroupBatchesOnCpu whole_groups;
    return time_steps(*foreach_whole, count, on);
  };
  // Warm-up: state allocation, first-touch page faults.
  time_steps(*torch_optim, 1, device);
  time_steps(*foreach, 1, device);
  step_whole(1, device);
  std::vector<double> torch_s, foreach_s, whole_s;
  for (int r = 0; r < rounds; ++r) {
    torch_s.push_back(time_steps(*torch_optim, steps, device));
    foreach_s.push_back(time_steps(*foreach, steps, device));
    whole_s.push_back(step_whole(steps, device));
  }
  double worst = 0;
  for (const Setup* copy : {&fast, &whole}) {
    for (size_t i = 0; i < copy->params.size(); ++i) {
      const torch::Tensor a = copy->params[i].detach(), b = reference.params[i].detach();
      worst = std::max(worst, ((a - b).abs().max() / b.abs().max()).item<double>());
    }
  }
  const double t = median(torch_s), f = median(foreach_s), w = median(whole_s);
  std::cout << "| " << name << " | " << std::fixed << std::setprecision(1) << t * 1e3 << " | "
            << f * 1e3 << " (" << std::setprecision(2) << t / f << ") | " << std::setprecision(1)
            << w * 1e3 << " (" << std::setprecision(2) << t / w << ") | " << std::scientific
            << std::setprecision(1) << worst << " |\n"
            << std::defaultfloat;
}

int run(int argc, char** argv) {
  CLI::App app{"optimizer step: torch::optim against nxt's multi-tensor optimizers"};
  int steps = 5, rounds = 5;
  std::string device_name = "cpu";
  app.add_option("--steps", steps, "steps per timed round")->check(CLI::PositiveNumber);
  app.add_option("--rounds", rounds, "timed rounds per optimizer (the median is shown)")
      ->check(CLI::PositiveNumber);
  app.add_option("--device", device_name, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  CLI11_PARSE(app, argc, argv);
  const torch::Device device(device_name == "cuda" ? torch::kCUDA : torch::kCPU);
  torch::NoGradGuard no_grad;
  const Setup probe = resnext50(device);
  std::cout
      << "ResNeXt-50: " << probe.params.size() << " parameter tensors, "
      << count_parameters(*probe.model) << " values; " << device_name << ", "
      << torch::get_num_threads() << " threads, " << steps << " steps x " << rounds
      << " rounds\n\n| optimizer | torch::optim ms/step | nxt ms/step (speed-up) | whole-group "
         "batches ms/step (speed-up) | max rel. difference |\n| --- | --- | --- | --- | --- |\n";
  bench<torch::optim::SGD, ForeachSgd>("sgd, momentum 0.9, nesterov",
                                       torch::optim::SGDOptions(0.1).momentum(0.9).nesterov(true),
                                       steps, rounds, device);
  bench<torch::optim::Adam, ForeachAdam>("adam", torch::optim::AdamOptions(1e-3), steps, rounds,
                                         device);
  bench<torch::optim::AdamW, ForeachAdamW>("adamw", torch::optim::AdamWOptions(1e-3), steps, rounds,
                                           device);
  return 0;
}

}  // namespace
}  // namespace nxt

int main(int argc, char** argv) {
  return nxt::run(argc, argv);
}
