// Tests of dynamic loss scaling (train/loss_scaler.h) against PyTorch's torch.amp.GradScaler,
// run by tests/unit/grad_scaler_reference.py on the same gradients: the scale of every step,
// the skipped steps, the unscaled gradients and the final state must be the same. Also the
// scaler's state in checkpoints.
#include "train/loss_scaler.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "common/check.h"
#include "test_support.h"

namespace nxt {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// One step's true gradients: 3 for parameter a, 2 for b (the reference script's layout).
using StepGradients = std::vector<float>;

struct ScalerStep {
  double scale = 0;
  bool skipped = false;
  std::vector<double> unscaled;
};

struct ScalerRun {
  std::vector<ScalerStep> steps;
  LossScalerState final_state;
};

// `magnitude`-sized gradients from a seeded generator; the steps in `bad` get an inf or NaN.
std::vector<StepGradients> gradient_steps(int steps, float magnitude,
                                          const std::vector<std::pair<int, float>>& bad) {
  torch::manual_seed(5);
  std::vector<StepGradients> out;
  for (int s = 0; s < steps; ++s) {
    const torch::Tensor g = torch::randn({5}) * magnitude;
    out.emplace_back(g.data_ptr<float>(), g.data_ptr<float>() + 5);
  }
  for (const auto& [step, value] : bad) out[static_cast<size_t>(step)][(step * 2) % 5] = value;
  return out;
}

// Our scaler, with GradScaler's recipe: scale the loss, backward, unscale, skip or step, update.
ScalerRun run_nxt(const std::vector<StepGradients>& steps, const LossScalerOptions& options) {
  LossScaler scaler(options);
  const torch::Tensor a = torch::zeros({3}, torch::requires_grad());
  const torch::Tensor b = torch::zeros({2}, torch::requires_grad());
  ScalerRun run;
  for (const StepGradients& values : steps) {
    const torch::Tensor g = torch::tensor(values);
    const torch::Tensor loss = (a * g.slice(0, 0, 3)).sum() + (b * g.slice(0, 3, 5)).sum();
    ScalerStep step;
    step.scale = scaler.scale();
    scaler.scale_loss(loss).backward();
    const torch::Tensor found_inf = scaler.unscale_and_check({a, b});
    const torch::Tensor grads = torch::cat({a.grad(), b.grad()});
    step.unscaled.assign(grads.data_ptr<float>(), grads.data_ptr<float>() + 5);
    step.skipped = scaler.update(found_inf.item<float>() != 0);
    a.mutable_grad() = torch::Tensor();
    b.mutable_grad() = torch::Tensor();
    run.steps.push_back(step);
  }
  run.final_state = scaler.state();
  return run;
}

// A float32 value the script printed with %.9g (9 digits identify a float, not a double);
// std::stod also reads inf and nan.
double as_float(const std::string& text) {
  return static_cast<float>(std::stod(text));
}

// The same under torch.amp.GradScaler; false when this Python's torch has none.
bool run_pytorch(const std::vector<StepGradients>& steps, const LossScalerOptions& options,
                 ScalerRun* run) {
  testing_support::TempDir dir("grad_scaler_reference");
  {
    std::ofstream out(dir.path("steps.txt"));
    char number[32];
    for (const StepGradients& values : steps) {
      for (float v : values) {
        std::snprintf(number, sizeof number, "%.9g ", static_cast<double>(v));
        out << number;
      }
      out << "\n";
    }
  }
  const std::string command =
      std::string(NXT_PYTHON) + " " + NXT_SOURCE_DIR + "/tests/unit/grad_scaler_reference.py " +
      std::to_string(options.init_scale) + " " + std::to_string(options.growth_interval) + " " +
      dir.path("steps.txt") + " " + dir.path("reference.txt");
  const int status = std::system(command.c_str());
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) return false;
  EXPECT_EQ(status, 0) << command;
  std::ifstream in(dir.path("reference.txt"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream tokens(line);
    std::string first, token;
    tokens >> first;
    if (first == "final") {
      tokens >> token;
      run->final_state.scale = as_float(token);
      tokens >> run->final_state.growth_tracker;
      continue;
    }
    ScalerStep step;
    step.scale = as_float(first);
    int skipped = 0;
    tokens >> skipped;
    step.skipped = skipped != 0;
    while (tokens >> token) step.unscaled.push_back(as_float(token));
    run->steps.push_back(step);
  }
  return true;
}

// Compares the two; `ours` gets our run (a skipped test leaves it empty).
void expect_same_as_pytorch(const std::vector<StepGradients>& steps,
                            const LossScalerOptions& options, ScalerRun* ours_out) {
  ScalerRun reference;
  if (!run_pytorch(steps, options, &reference))
    GTEST_SKIP() << NXT_PYTHON << " has no torch.amp.GradScaler";
  const ScalerRun& ours = *ours_out = run_nxt(steps, options);
  ASSERT_EQ(reference.steps.size(), steps.size());
  for (size_t s = 0; s < steps.size(); ++s) {
    const ScalerStep& want = reference.steps[s];
    const ScalerStep& got = ours.steps[s];
    EXPECT_EQ(got.scale, want.scale) << "step " << s;
    EXPECT_EQ(got.skipped, want.skipped) << "step " << s;
    if (want.skipped) continue;  // the gradients of a skipped step are never used
    ASSERT_EQ(want.unscaled.size(), got.unscaled.size());
    for (size_t k = 0; k < got.unscaled.size(); ++k)
      EXPECT_EQ(got.unscaled[k], want.unscaled[k]) << "step " << s << " gradient " << k;
  }
  EXPECT_EQ(ours.final_state.scale, reference.final_state.scale);
  EXPECT_EQ(ours.final_state.growth_tracker, reference.final_state.growth_tracker);
}

TEST(LossScaler, MatchesGradScalerThroughGrowthAndBackoff) {
  LossScalerOptions options;
  options.growth_interval = 3;  // so the scale grows within the sequence
  // Bad steps: one alone, two in a row (the tracker restarts after each), a NaN, a -inf.
  const auto steps = gradient_steps(18, 1e-2f, {{4, kInf}, {9, kNaN}, {10, -kInf}, {15, kNaN}});
  ScalerRun ours;
  expect_same_as_pytorch(steps, options, &ours);
  if (IsSkipped()) return;
  // The scale must have moved both ways for the comparison to mean something.
  int skips = 0;
  double lowest = ours.steps.front().scale, highest = lowest;
  for (const ScalerStep& s : ours.steps) {
    skips += s.skipped;
    lowest = std::min(lowest, s.scale);
    highest = std::max(highest, s.scale);
  }
  EXPECT_EQ(skips, 4);
  EXPECT_LT(lowest, options.init_scale);
  EXPECT_GT(highest, options.init_scale);
}

TEST(LossScaler, MatchesGradScalerWhenScaledGradientsOverflowAndGrowthWouldOverflow) {
  LossScalerOptions options;
  options.init_scale = 0x1p125;  // growth stops below float's largest power of two
  options.growth_interval = 2;
  // Gradients near 1 overflow float once scaled by 2**127: the scaler itself finds them.
  ScalerRun ours;
  expect_same_as_pytorch(gradient_steps(24, 1.0f, {}), options, &ours);
  if (IsSkipped()) return;
  double highest = 0;
  for (const ScalerStep& s : ours.steps) highest = std::max(highest, s.scale);
  EXPECT_EQ(highest, 0x1p127);  // grown up to, never past, float's range
}

TEST(LossScaler, DisabledScalerPassesThrough) {
  LossScaler scaler;
  const torch::Tensor loss = torch::tensor(3.5f);
  EXPECT_TRUE(scaler.scale_loss(loss).equal(loss));
  EXPECT_FALSE(scaler.unscale_and_check({torch::zeros({2}, torch::requires_grad())}).defined());
  EXPECT_FALSE(scaler.update(true));
}

TEST(LossScaler, RestoresStateAndRejectsBadState) {
  LossScalerOptions options;
  options.growth_interval = 3;
  LossScaler scaler(options);
  scaler.restore({1024.0, 2});
  EXPECT_FALSE(scaler.update(false));  // the tracker reaches 3: the scale grows
  EXPECT_EQ(scaler.scale(), 2048.0);
  EXPECT_EQ(scaler.state().growth_tracker, 0);
  EXPECT_THROW(scaler.restore({0.0, 0}), Error);
}

// last.pt keeps the state (docs/checkpoint-format.md), Python's weights-only torch.load reads
// it, and a checkpoint without it (another amp mode, an older file) reads as "none saved".
TEST(LossScaler, StateRoundTripsThroughCheckpointAndLoadsInPython) {
  testing_support::TempDir dir("loss_scale_checkpoint");
  Checkpoint c;
  c.model = {{"w", torch::ones({2})}};
  c.position.loss_scale = 0x1p-3;
  c.position.loss_scale_growth_tracker = 1999;
  save_checkpoint(c, dir.path("fp16.pt"));
  const TrainingPosition back = load_checkpoint(dir.path("fp16.pt")).position;
  EXPECT_EQ(back.loss_scale, 0x1p-3);
  EXPECT_EQ(back.loss_scale_growth_tracker, 1999);
  // torch.load's default: weights-only from torch 2.6 on (the venv's 2.15); 1.13's weights-only
  // unpickler cannot read floats, so it is not forced there.
  const std::string command =
      std::string(NXT_PYTHON) + " -c \"import sys, torch; c = torch.load(sys.argv[1]); " +
      "sys.exit(0 if (c['loss_scale'], c['loss_scale_growth_tracker']) == " +
      "(0.125, 1999) else 1)\" " + dir.path("fp16.pt");
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  c.position.loss_scale = 0;
  save_checkpoint(c, dir.path("bf16.pt"));
  EXPECT_EQ(load_checkpoint(dir.path("bf16.pt")).position.loss_scale, 0);
}

}  // namespace
}  // namespace nxt
