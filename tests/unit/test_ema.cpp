// Tests of the EMA of the weights (train/ema.h, Note [EMA of the weights]): equal to torchvision's
// reference ExponentialMovingAverage (tests/unit/ema_reference.py, an AveragedModel with
// use_buffers=True) after the same updates of a tiny ResNeXt trained by real SGD steps, warmup
// resets included; the decay adjustment against the reference's arithmetic; the swap into the
// model for evaluation; the EMA's entries in checkpoints; and its columns in the reports.
#include "train/ema.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "checkpoint/async_writer.h"
#include "checkpoint/checkpoint.h"
#include "model/resnext.h"
#include "model/state_dict_io.h"
#include "test_support.h"
#include "tiny_model.h"
#include "train/metrics.h"
#include "train/run_reports.h"

namespace nxt {
namespace {

using testing_support::error_of;
using testing_support::TempDir;
using testing_support::tiny_spec;

// The run both sides replay: the reference's arguments and the update schedule.
struct EmaRun {
  double ema_decay = 0.99;
  int64_t world_size = 2, batch_size = 4, every_steps = 2, epochs = 4;
  int64_t steps_per_epoch = 5;  // so updates fall on both sides of an epoch boundary
  double warmup_epochs = 1;     // updates in epoch 0 copy (the reference's n_averaged reset)
  int64_t steps() const { return epochs * steps_per_epoch; }
  double decay() const {
    return adjusted_ema_decay(ema_decay, world_size * batch_size, every_steps, epochs);
  }
};

// The reference script's outputs.
struct Reference {
  std::map<std::string, torch::Tensor> ema;
  double decay = 0;
  int64_t n_averaged = -1;
  std::vector<double> adjusted;  // one per decays.txt line
};

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

// Runs tests/unit/ema_reference.py on `dir`; a Python that cannot run it fails the test, naming
// the command (the comparison is the point of the test: it never skips).
Reference run_reference(const TempDir& dir) {
  const std::string command = std::string(NXT_PYTHON) + " " + NXT_SOURCE_DIR +
                              "/tests/unit/ema_reference.py " + dir.dir().string();
  const int status = std::system(command.c_str());
  Reference reference;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the reference (torch.optim.swa_utils.AveragedModel) did not run: " << command;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return reference;
  for (auto& [name, tensor] : load_state_dict(dir.path("reference_ema.pt")))
    reference.ema[name] = tensor;
  std::ifstream in(dir.path("reference.txt"));
  std::string key, value;
  while (in >> key >> value) {
    if (key == "decay") reference.decay = std::stod(value);
    if (key == "n_averaged") reference.n_averaged = std::stoll(value);
    if (key == "adjusted") reference.adjusted.push_back(std::stod(value));
  }
  return reference;
}

// One real SGD step in train mode on random data: the parameters move, and so do BatchNorm's
// running statistics and num_batches_tracked.
void sgd_step(ResNeXt& model, torch::optim::SGD& optimizer) {
  const torch::Tensor images = torch::randn({4, 3, 32, 32});
  const torch::Tensor labels = torch::randint(0, 3, {4}, torch::kLong);
  optimizer.zero_grad();
  torch::nn::functional::cross_entropy(model->forward(images), labels).backward();
  optimizer.step();
}

double max_abs_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

TEST(Ema, EqualsTorchvisionExponentialMovingAverageAfterTheSameUpdates) {
  const EmaRun run;
  TempDir dir("ema_reference");
  torch::manual_seed(11);
  ResNeXt model(tiny_spec());
  model->train();
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  WeightEma ema(*model, EmaOptions{run.decay(), run.every_steps, run.warmup_epochs});
  {
    std::ostringstream kinds;
    for (const auto& item : model->named_parameters()) kinds << "param " << item.key() << "\n";
    for (const auto& item : model->named_buffers()) kinds << "buffer " << item.key() << "\n";
    write_text(dir.path("kinds.txt"), kinds.str());
    std::ostringstream args;
    args.precision(17);
    args << run.ema_decay << " " << run.world_size << " " << run.batch_size << " "
         << run.every_steps << " " << run.epochs << " " << run.warmup_epochs << "\n";
    write_text(dir.path("args.txt"), args.str());
  }
  save_state_dict(state_dict_of(*model), dir.path("initial.pt"));
  // The decays.txt cases: the run's, the recipe's (0.99998, 32 steps, 8 x 32 images, 600
  // epochs), and one whose alpha reaches 1 (decay 0: the EMA is the model).
  const std::vector<std::vector<double>> decay_cases = {
      {run.ema_decay, 2, 4, 2, 4}, {0.99998, 8, 32, 32, 600}, {0.9, 64, 128, 4, 10}};
  {
    std::ostringstream text;
    text.precision(17);
    for (const auto& c : decay_cases)
      text << c[0] << " " << int64_t(c[1]) << " " << int64_t(c[2]) << " " << int64_t(c[3]) << " "
           << int64_t(c[4]) << "\n";
    write_text(dir.path("decays.txt"), text.str());
  }
  std::ostringstream updates;
  int64_t made = 0;
  for (int64_t step = 1; step <= run.steps(); ++step) {
    sgd_step(model, optimizer);
    const int64_t epoch = (step - 1) / run.steps_per_epoch;
    if (!ema.after_step(step, epoch)) continue;
    ++made;
    const std::string file = "state_" + std::to_string(step) + ".pt";
    save_state_dict(state_dict_of(*model), dir.path(file));
    updates << file << " " << epoch << "\n";
  }
  write_text(dir.path("updates.txt"), updates.str());
  EXPECT_EQ(made, run.steps() / run.every_steps);

  const Reference reference = run_reference(dir);
  ASSERT_FALSE(reference.ema.empty());
  EXPECT_EQ(run.decay(), reference.decay) << "the adjusted decay differs from the reference's";
  ASSERT_EQ(reference.adjusted.size(), decay_cases.size());
  for (size_t i = 0; i < decay_cases.size(); ++i) {
    const auto& c = decay_cases[i];
    EXPECT_EQ(adjusted_ema_decay(c[0], int64_t(c[1]) * int64_t(c[2]), int64_t(c[3]), int64_t(c[4])),
              reference.adjusted[i])
        << "decay case " << i;
  }
  EXPECT_EQ(reference.adjusted[2], 0.0);  // alpha clipped at 1
  EXPECT_EQ(ema.averaged(), reference.n_averaged);

  // Every floating tensor within 1e-6 of the reference's; the EMA must also have moved away
  // from the model, or the comparison would say nothing about the averaging.
  double worst = 0, from_model = 0;
  int64_t floating = 0;
  std::map<std::string, torch::Tensor> model_state;
  for (auto& [name, tensor] : state_dict_of(*model)) model_state[name] = tensor;
  std::string counts;  // the integer buffers where ours and torchvision's differ
  for (const auto& [name, ours] : ema.state_dict()) {
    ASSERT_TRUE(reference.ema.count(name)) << "the reference has no " << name;
    const torch::Tensor& theirs = reference.ema.at(name);
    if (!ours.is_floating_point()) {
      // Ours copies the model's count; torchvision's averaged it in float and truncated.
      EXPECT_TRUE(ours.equal(model_state.at(name))) << name;
      if (counts.empty() && !ours.equal(theirs))
        counts = name + ": ours " + std::to_string(ours.item<int64_t>()) +
                 " (the model's), torchvision's " + std::to_string(theirs.item<int64_t>());
      continue;
    }
    ++floating;
    const double diff = max_abs_difference(ours, theirs);
    EXPECT_LE(diff, 1e-6) << name;
    worst = std::max(worst, diff);
    from_model = std::max(from_model, max_abs_difference(ours, model_state.at(name)));
  }
  std::printf(
      "EMA vs torchvision's ExponentialMovingAverage: %lld floating tensors, max abs "
      "difference %.3g; EMA vs the model: %.3g; decay %.17g, %lld updates averaged\n",
      static_cast<long long>(floating), worst, from_model, run.decay(),
      static_cast<long long>(ema.averaged()));
  if (!counts.empty()) std::printf("integer buffers (not compared), e.g. %s\n", counts.c_str());
  EXPECT_GT(floating, 10);
  EXPECT_GT(from_model, 1e-3) << "the EMA equals the model: the averaging was not exercised";
}

// Warmup (Note [EMA of the weights]): every update in an epoch below warmup_epochs copies, and
// so does the first one after it; updates come on multiples of every_steps of the global step.
TEST(Ema, CopiesDuringWarmupAndUpdatesOnGlobalStepMultiples) {
  torch::nn::Linear linear(2, 1);
  WeightEma ema(*linear, EmaOptions{0.5, 3, 1.0});
  const torch::NoGradGuard no_grad;
  linear->weight.fill_(2);
  EXPECT_FALSE(ema.after_step(2, 0));
  EXPECT_TRUE(ema.after_step(3, 0));  // warmup epoch: a copy, and averaged() back to 0
  EXPECT_EQ(ema.averaged(), 0);
  EXPECT_TRUE(ema.state_dict()[0].second.equal(linear->weight));
  linear->weight.fill_(4);
  EXPECT_TRUE(ema.after_step(6, 1));  // the first update after warmup copies too
  EXPECT_EQ(ema.averaged(), 1);
  EXPECT_TRUE(ema.state_dict()[0].second.equal(linear->weight));
  linear->weight.fill_(8);
  EXPECT_TRUE(ema.after_step(9, 1));  // 0.5 * 4 + 0.5 * 8
  EXPECT_TRUE(ema.state_dict()[0].second.equal(torch::full({1, 2}, 6.0f)));
  EXPECT_EQ(ema.averaged(), 2);
}

// For an evaluation the model holds the EMA's values in its own tensors (the optimizer and the
// reducer keep pointing at them), and gets its own back afterwards, bit for bit.
TEST(Ema, SwapsIntoTheModelKeepingTensorIdentity) {
  torch::manual_seed(3);
  ResNeXt model(tiny_spec());
  WeightEma ema(*model, EmaOptions{0.9, 1, 0});
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.1));
  model->train();
  sgd_step(model, optimizer);
  const StateDict trained = state_dict_of(*model);
  std::vector<const void*> identity;
  for (const auto& p : model->parameters()) identity.push_back(p.unsafeGetTensorImpl());
  const StateDict initial = ema.state_dict();  // no update yet: the initial weights
  {
    const WeightEma::InModel swapped(ema);
    const StateDict inside = state_dict_of(*model);
    for (size_t i = 0; i < inside.size(); ++i)
      EXPECT_TRUE(inside[i].second.equal(initial[i].second)) << inside[i].first;
  }
  const StateDict after = state_dict_of(*model);
  for (size_t i = 0; i < after.size(); ++i)
    EXPECT_TRUE(after[i].second.equal(trained[i].second)) << after[i].first;
  const auto parameters = model->parameters();
  for (size_t i = 0; i < parameters.size(); ++i)
    EXPECT_EQ(parameters[i].unsafeGetTensorImpl(), identity[i]);
  EXPECT_FALSE(trained[0].second.equal(initial[0].second));  // the step moved the weights
}

TEST(Ema, LoadChecksNamesAndShapes) {
  torch::nn::Linear linear(2, 1);
  WeightEma ema(*linear, EmaOptions{0.9, 1, 0});
  StateDict saved = ema.state_dict();
  saved[0].second = saved[0].second + 1;
  ema.load(saved, 7, "last.pt");
  EXPECT_EQ(ema.averaged(), 7);
  EXPECT_TRUE(ema.state_dict()[0].second.equal(saved[0].second));
  StateDict renamed = saved;
  renamed[0].first = "other";
  EXPECT_NE(error_of([&] { ema.load(renamed, 1, "old.pt"); })
                .find("'old.pt': its EMA ('ema') "
                      "has no 'weight'"),
            std::string::npos);
  StateDict reshaped = saved;
  reshaped[0].second = torch::zeros({3});
  EXPECT_NE(error_of([&] { ema.load(reshaped, 1, "old.pt"); }).find("'weight' has shape [3]"),
            std::string::npos);
}

// last.pt: the raw model plus "ema" and "ema_updates", "weights": "raw"; best.pt of an EMA
// best_metric: the EMA under "model", "weights": "ema"; files before the EMA read as raw.
TEST(Ema, CheckpointHoldsTheEmaAndBestCanHoldItAsTheModel) {
  TempDir dir("ema_checkpoint");
  Checkpoint c;
  c.model = {{"w", torch::ones({2})}};
  c.ema = EmaState{{{"w", torch::full({2}, 0.5f)}}, 12};
  torch::nn::Linear linear(1, 1);
  torch::optim::SGD sgd(linear->parameters(), torch::optim::SGDOptions(0.1));
  {
    CheckpointWriter writer;
    writer.write(snapshot_checkpoint(c, sgd),
                 {{dir.path("best.pt"), CheckpointWeights::kEma}, {dir.path("last.pt")}},
                 CheckpointWriter::When::kNow);
  }
  const Checkpoint last = load_checkpoint(dir.path("last.pt"));
  EXPECT_EQ(last.weights, CheckpointWeights::kRaw);
  EXPECT_TRUE(last.model[0].second.equal(torch::ones({2})));
  ASSERT_TRUE(last.ema.has_value());
  EXPECT_EQ(last.ema->averaged, 12);
  EXPECT_TRUE(last.ema->weights[0].second.equal(torch::full({2}, 0.5f)));
  const Checkpoint best = load_checkpoint(dir.path("best.pt"));
  EXPECT_EQ(best.weights, CheckpointWeights::kEma);
  EXPECT_TRUE(best.model[0].second.equal(torch::full({2}, 0.5f)));
  EXPECT_FALSE(best.ema.has_value());
  // Python reads "model" (what nxt_eval, nxt_predict and export_model.py use) and "weights".
  const std::string command =
      std::string(NXT_PYTHON) + " -c \"import sys, torch; c = torch.load(sys.argv[1]); " +
      "sys.exit(0 if c['weights'] == 'ema' and c['model']['w'].tolist() == [0.5, 0.5] " +
      "and 'ema' not in c else 1)\" " + dir.path("best.pt");
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  c.ema.reset();  // EMA off: no entries, raw weights
  save_checkpoint(c, dir.path("plain.pt"));
  EXPECT_FALSE(load_checkpoint(dir.path("plain.pt")).ema.has_value());
  EXPECT_NE(error_of([&] { checkpoint_bytes(c, CheckpointWeights::kEma); }).find("has none"),
            std::string::npos);
}

TEST(Ema, ReportsCarryTheEmaFigures) {
  EpochRecord record{3, 0.5, 1.0, 0.75, 0.6, 0.1, 2.0, 10.0};
  record.ema = EpochRecord::Ema{0.8125, 0.5};
  EXPECT_NE(notebook_line(record).find("Test_loss: 0.6000, Test_acc_ema: 81.25%, "
                                       "Test_loss_ema: 0.5000, Lr: 0.1"),
            std::string::npos)
      << notebook_line(record);
  TempDir dir("ema_csv");
  MetricsCsv csv(dir.path("metrics.csv"));
  csv.append(record);
  record.ema.reset();
  csv.append(record);
  std::ifstream in(dir.path("metrics.csv"));
  std::string header, with, without;
  std::getline(in, header);
  std::getline(in, with);
  std::getline(in, without);
  const auto ends_with = [](const std::string& text, const std::string& end) {
    return text.size() >= end.size() &&
           text.compare(text.size() - end.size(), end.size(), end) == 0;
  };
  EXPECT_TRUE(ends_with(header, ",val_top5,val_acc_ema,val_loss_ema")) << header;
  EXPECT_TRUE(ends_with(with, ",10.00,,0.812500,0.500000")) << with;  // no top-5 with 3 classes
  EXPECT_TRUE(ends_with(without, ",10.00,,,")) << without;
  TrainingPosition position;
  EXPECT_EQ(run_summary_json("completed", "", position, BestMetric::kValAccEma)["best_weights"],
            "ema");
  EXPECT_EQ(run_summary_json("completed", "", position, BestMetric::kValLoss)["best_weights"],
            "raw");
}

}  // namespace
}  // namespace nxt
