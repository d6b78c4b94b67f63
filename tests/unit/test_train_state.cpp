// What a resumed job rests on: the learning-rate schedule as a function of epochs done
// (warmup, step, cosine, linear scaling, at their boundaries), the optimizer state restored
// onto the resuming rank's device, the GPU each rank picks, and the checkpoint position fields.
#include <gtest/gtest.h>

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "comm/placement.h"
#include "model/resnext.h"
#include "test_support.h"
#include "tiny_model.h"
#include "train/metrics.h"
#include "train/optim.h"

namespace nxt {
namespace {

using testing_support::error_of;
using testing_support::tiny_spec;

OptimConfig optim(ScheduleKind schedule) {
  OptimConfig c;
  c.name = OptimizerKind::kSgd;
  c.lr = 0.1;
  c.schedule = schedule;
  return c;
}

TEST(LrSchedule, WarmupRisesLinearlyToTheBaseRate) {
  OptimConfig c = optim(ScheduleKind::kConstant);
  c.warmup_epochs = 2;
  const LrSchedule s(c, 0.1, 10);
  EXPECT_DOUBLE_EQ(s.at(0, 0.5), 0.1 * 0.25);
  EXPECT_DOUBLE_EQ(s.at(1, 0.5), 0.1 * 0.75);
  EXPECT_DOUBLE_EQ(s.at(1, 1.0), 0.1);  // the warmup's last step reaches the base rate
  EXPECT_DOUBLE_EQ(s.at(5, 0.3), 0.1);
}

TEST(LrSchedule, StepDecaysAtEpochBoundaries) {
  OptimConfig c = optim(ScheduleKind::kStep);
  c.step_every_epochs = 3;
  c.step_gamma = 0.5;
  const LrSchedule s(c, 0.1, 10);
  EXPECT_DOUBLE_EQ(s.at(2, 1.0), 0.1);  // the last step of epoch 3 still has the old rate
  EXPECT_DOUBLE_EQ(s.at(3, 0.01), 0.05);
  EXPECT_DOUBLE_EQ(s.at(6, 0.5), 0.025);
}

TEST(LrSchedule, CosineEndsAtTheFloorWhateverTheStepsPerEpoch) {
  OptimConfig c = optim(ScheduleKind::kCosine);
  c.warmup_epochs = 1;
  c.min_lr = 0.001;
  const LrSchedule s(c, 0.1, 5);
  EXPECT_DOUBLE_EQ(s.at(0, 1.0), 0.1);                    // end of warmup: the top of the cosine
  EXPECT_NEAR(s.at(2, 1.0), 0.001 + 0.099 * 0.5, 1e-12);  // half-way (epoch 3 of 5 after 1)
  EXPECT_DOUBLE_EQ(s.at(4, 1.0), 0.001);                  // the run's last step
  // The same fraction of an epoch gives the same rate, however many steps the epoch has.
  EXPECT_DOUBLE_EQ(s.at(3, 32.0 / 75), s.at(3, 64.0 / 150));
}

TEST(LrSchedule, LinearScalingFollowsTheGlobalBatch) {
  OptimConfig c = optim(ScheduleKind::kConstant);
  c.scale_lr = LrScaling::kLinear;
  c.base_batch = 256;
  EXPECT_DOUBLE_EQ(scaled_lr(c, 2048), 0.8);
  EXPECT_DOUBLE_EQ(scaled_lr(c, 128), 0.05);
  c.scale_lr = LrScaling::kNone;
  EXPECT_DOUBLE_EQ(scaled_lr(c, 2048), 0.1);
}

// A checkpoint written on one device restores its optimizer state onto the resuming rank's
// device. Without a GPU, the meta device stands in for "another device": every state tensor
// must land there, and the restored moments equal the saved ones.
TEST(OptimizerState, IsRestoredAndMovedOntoTheGivenDevice) {
  ResNeXt model(tiny_spec());
  for (const auto& [kind, name] : kOptimizerNames) {
    OptimConfig oc = optim(ScheduleKind::kConstant);
    oc.name = kind;
    oc.momentum = 0.9;
    auto optimizer = make_optimizer(oc, *model, 1e-3).optimizer;
    optimizer->zero_grad();
    model->forward(torch::rand({2, 3, 16, 16})).sum().backward();
    optimizer->step();
    const std::vector<char> bytes = optimizer_bytes(*optimizer);

    auto restored = make_optimizer(oc, *model, 1e-3).optimizer;
    load_optimizer_bytes(*restored, bytes, "test", torch::kCPU);
    EXPECT_EQ(optimizer_bytes(*restored), bytes) << name;  // nothing lost on the way
    move_optimizer_state(*restored, torch::kMeta);
    int64_t moved = 0;
    for (const auto& entry : restored->state()) {
      const auto* state = entry.second.get();
      if (const auto* adam = dynamic_cast<const torch::optim::AdamParamState*>(state)) {
        EXPECT_TRUE(adam->exp_avg().is_meta() && adam->exp_avg_sq().is_meta()) << name;
      } else if (const auto* adamw = dynamic_cast<const torch::optim::AdamWParamState*>(state)) {
        EXPECT_TRUE(adamw->exp_avg().is_meta() && adamw->exp_avg_sq().is_meta()) << name;
      } else if (const auto* sgd = dynamic_cast<const torch::optim::SGDParamState*>(state)) {
        EXPECT_TRUE(sgd->momentum_buffer().is_meta()) << name;
      }
      ++moved;
    }
    EXPECT_EQ(moved, static_cast<int64_t>(model->parameters().size())) << name;
  }
}

// The training step reads nothing off the device: only read() (and step_loss_sum(), for
// skip_nonfinite) do, and each is counted. Skipped steps do not reach the totals; the loss is
// kept in fixed point (MetricTotals::kLossUnit) only at the read.
TEST(StepMetrics, StepsAccumulateOnTheDeviceAndOnlyReadsSync) {
  StepMetrics metrics(torch::kCPU);
  const int64_t reads_before = StepMetrics::host_reads();
  const torch::Tensor labels = torch::tensor({0, 1, 1, 2}, torch::kLong);
  const torch::Tensor logits = torch::eye(3).index_select(0, torch::tensor({0, 1, 0, 2}));
  for (int step = 0; step < 3; ++step) {
    metrics.start_step();
    metrics.add(torch::tensor(0.5), logits, labels);  // 3 of 4 right, mean loss 0.5
    metrics.add(torch::tensor(0.25), logits, labels);
    if (step != 1) metrics.commit();  // step 2 is skipped
  }
  EXPECT_EQ(StepMetrics::host_reads(), reads_before) << "a step read off the device";
  EXPECT_EQ(metrics.pending_samples(), 16);
  const StepMetrics::Read read = metrics.read();
  EXPECT_EQ(StepMetrics::host_reads(), reads_before + 1);
  EXPECT_TRUE(read.finite);
  EXPECT_EQ(read.totals.seen, 16);
  EXPECT_EQ(read.totals.correct, 12);
  EXPECT_EQ(read.totals.loss_micros, 6000000);  // 2 steps x (0.5 x 4 + 0.25 x 4)
  EXPECT_EQ(metrics.read().totals.seen, 0);     // a read starts over

  metrics.start_step();
  metrics.add(torch::tensor(std::nan("")), logits, labels);
  EXPECT_FALSE(std::isfinite(metrics.step_loss_sum()));
  metrics.commit();
  EXPECT_FALSE(metrics.read().finite);
}

TEST(Placement, OneVisibleGpuIsDeviceZeroSeveralFollowTheLocalRank) {
  EXPECT_EQ(gpu_index_for_rank(1, 5, 8), 0);  // --gpus-per-task=1: each rank sees its own
  EXPECT_EQ(gpu_index_for_rank(8, 5, 8), 5);
  EXPECT_EQ(gpu_index_for_rank(8, 1, 2), 1);
  const std::string error = error_of([] { gpu_index_for_rank(2, 3, 4); });
  EXPECT_NE(error.find("4 ranks share this node but only 2 GPU(s)"), std::string::npos) << error;
  EXPECT_NE(error_of([] { gpu_index_for_rank(0, 0, 1); }).find("no CUDA device"),
            std::string::npos);
}

// Sets this thread's CPU mask (what allowed_cpus() reads: sched_getaffinity of the calling
// thread) and OMP_NUM_THREADS for the test's lifetime, and restores both.
class CpuMaskAndOmpThreads {
 public:
  CpuMaskAndOmpThreads() {
    CPU_ZERO(&saved_mask_);
    sched_getaffinity(0, sizeof saved_mask_, &saved_mask_);
    if (const char* omp = std::getenv("OMP_NUM_THREADS")) saved_omp_ = omp;
  }
  ~CpuMaskAndOmpThreads() {
    sched_setaffinity(0, sizeof saved_mask_, &saved_mask_);
    if (saved_omp_)
      setenv("OMP_NUM_THREADS", saved_omp_->c_str(), 1);
    else
      unsetenv("OMP_NUM_THREADS");
  }
  // The CPUs of the mask at construction.
  std::vector<int> original_cpus() const {
    std::vector<int> cpus;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
      if (CPU_ISSET(cpu, &saved_mask_)) cpus.push_back(cpu);
    return cpus;
  }
  // True when the mask is now exactly `cpus`.
  static bool pin_to(const std::vector<int>& cpus) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int cpu : cpus) CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0 && allowed_cpus().count == int(cpus.size());
  }
  static void set_omp(const char* value) {
    if (value)
      setenv("OMP_NUM_THREADS", value, 1);
    else
      unsetenv("OMP_NUM_THREADS");
  }

 private:
  cpu_set_t saved_mask_;
  std::optional<std::string> saved_omp_;
};

// The node's CPUs are shared among its ranks: an explicit count wins; OMP_NUM_THREADS next,
// capped by the mask; a launcher's binding (a mask narrower than the machine) is this rank's
// share; an unbound rank takes the machine's CPUs / local ranks. On a machine with >= 2 CPUs
// the unbound and the OMP_NUM_THREADS=2 counts are above 1: an implementation that always
// answers 1 fails.
TEST(Placement, ThreadsFollowTheAllowedCpusAndTheNodesRanks) {
  EXPECT_EQ(cpu_threads_per_rank(3, {0, 2, 0, 2}), 3);
  const int online = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  if (online < 2) GTEST_SKIP() << "needs >= 2 CPUs to tell a thread count from 1";
  CpuMaskAndOmpThreads restore;
  std::vector<int> machine;
  for (int cpu = 0; cpu < CPU_SETSIZE && int(machine.size()) < online; ++cpu)
    machine.push_back(cpu);
  if (!CpuMaskAndOmpThreads::pin_to(machine))
    machine = restore.original_cpus();  // a cpuset keeps some CPUs away: bound, not the machine
  const int all = int(machine.size());
  if (all < 2) GTEST_SKIP() << "this process may use 1 CPU only";
  CpuMaskAndOmpThreads::set_omp(nullptr);
  ASSERT_TRUE(CpuMaskAndOmpThreads::pin_to(machine));
  if (all == online) {  // unbound: the machine's CPUs, divided among the node's ranks
    EXPECT_EQ(cpu_threads_per_rank(std::nullopt, {0, 1, 0, 1}), online);
    EXPECT_EQ(cpu_threads_per_rank(std::nullopt, {1, 4, 1, 2}), online / 2);
    EXPECT_EQ(cpu_threads_per_rank(std::nullopt, {0, 4 * online, 0, 4 * online}), 1);
  }
  // OMP_NUM_THREADS, capped by the mask.
  CpuMaskAndOmpThreads::set_omp("2");
  EXPECT_EQ(cpu_threads_per_rank(std::nullopt, {0, 1, 0, 1}), 2);
  CpuMaskAndOmpThreads::set_omp("1000");
  EXPECT_EQ(cpu_threads_per_rank(std::nullopt, {0, 1, 0, 1}), all);
  CpuMaskAndOmpThreads::set_omp(nullptr);
  // Bound by the launcher to 3 CPUs (fewer on a small machine): this rank's own share, whatever
  // the number of ranks on the node.
  const std::vector<int> share(machine.begin(), machine.begin() + std::min({3, online - 1, all}));
  ASSERT_TRUE(CpuMaskAndOmpThreads::pin_to(share));
  EXPECT_EQ(cpu_threads_per_rank(std::nullopt, {0, 8, 0, 8}), int(share.size()));
}

}  // namespace
}  // namespace nxt

namespace nxt {
namespace {

// Fine-tuning: fc learns at lr, every other parameter at lr x optim.backbone_lr_mult, and the
// weight-decay exemption still holds within each.
TEST(OptimizerGroups, BackboneLearnsAtTheMultipleOfTheHeadsRate) {
  ResNeXt model(testing_support::tiny_spec());
  OptimConfig oc;
  oc.name = OptimizerKind::kAdamW;
  oc.weight_decay = 0.05;
  oc.backbone_lr_mult = 0.1;
  const std::vector<torch::Tensor> head = model->classifier()->parameters();
  GroupedOptimizer grouped = make_optimizer(oc, *model, 0.02, head);
  grouped.set_lr(0.01);
  const auto is_head = [&head](const torch::Tensor& p) {
    for (const auto& h : head)
      if (h.is_same(p)) return true;
    return false;
  };
  int64_t head_seen = 0, backbone_seen = 0;
  for (auto& group : grouped.optimizer->param_groups()) {
    const auto& options = static_cast<const torch::optim::AdamWOptions&>(group.options());
    for (const auto& p : group.params()) {
      if (is_head(p)) {
        ++head_seen;
        EXPECT_DOUBLE_EQ(options.lr(), 0.01);
      } else {
        ++backbone_seen;
        EXPECT_DOUBLE_EQ(options.lr(), 0.001);
      }
      EXPECT_DOUBLE_EQ(options.weight_decay(), p.dim() <= 1 ? 0.0 : 0.05);
    }
  }
  EXPECT_EQ(head_seen, 2);  // fc.weight, fc.bias
  EXPECT_EQ(backbone_seen, static_cast<int64_t>(model->parameters().size()) - 2);

  oc.backbone_lr_mult = 1;  // one rate: the groups of nxt before fine-tuning (by decay only)
  EXPECT_EQ(make_optimizer(oc, *model, 0.02, head).optimizer->param_groups().size(), 2u);
}

}  // namespace
}  // namespace nxt
