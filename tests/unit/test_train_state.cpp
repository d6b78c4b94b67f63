// What a resumed job rests on: the learning-rate schedule as a function of epochs done
// (warmup, step, cosine, linear scaling, at their boundaries), the optimizer state restored
// onto the resuming rank's device, the GPU each rank picks, and the checkpoint position fields;
// and what keeps a step and an evaluation from waiting on the GPU: no scalar read in a clipped
// optimizer step, one per shard of an evaluation, counted by a RecordFunction callback.
#include <ATen/record_function.h>
#include <gtest/gtest.h>

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "comm/placement.h"
#include "data/image_reader.h"
#include "data/normalize.h"
#include "data/packed_dataset.h"
#include "eval/evaluate.h"
#include "eval/forward.h"
#include "model/resnext.h"
#include "packed_fixture.h"
#include "test_support.h"
#include "tiny_model.h"
#include "train/grad_clip.h"
#include "train/metrics.h"
#include "train/optim.h"

#if defined(NXT_TORCH_HAS_CUDA)
#include <c10/cuda/CUDAFunctions.h>
#endif

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
  StepMetrics metrics(torch::kCPU, DeviceWaitLimit{});
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

// Counts, while alive, this thread's scalar reads off a tensor: aten::_local_scalar_dense, what
// .item() and item<T>() run. On a GPU each one waits for the device to finish all queued work;
// a CPU has nothing to wait for, so the test counts the reads themselves. (RecordFunction's
// callback API is the same in LibTorch 1.13 and 2.x.)
class ScalarReads {
 public:
  ScalarReads() : handle_(at::addThreadLocalCallback(at::RecordFunctionCallback(&on_start))) {
    count() = 0;
  }
  ~ScalarReads() { at::removeCallback(handle_); }
  ScalarReads(const ScalarReads&) = delete;
  ScalarReads& operator=(const ScalarReads&) = delete;
  int64_t value() const { return count(); }

 private:
  static int64_t& count() {
    thread_local int64_t reads = 0;
    return reads;
  }
  static std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
    if (std::strcmp(fn.name(), "aten::_local_scalar_dense") == 0) ++count();
    return nullptr;
  }
  at::CallbackHandle handle_;
};

// The gradients of a tiny model after one backward, and a copy of them.
std::vector<torch::Tensor> backward_once(ResNeXt& model) {
  model->zero_grad();
  torch::manual_seed(3);
  model->forward(torch::rand({4, 3, 16, 16})).pow(2).sum().backward();
  std::vector<torch::Tensor> grads;
  for (const auto& p : model->parameters()) grads.push_back(p.grad().clone());
  return grads;
}

// The same norm and the same clipped gradients as LibTorch's clip_grad_norm_, when the norm is
// above the bound (scaled) and when it is within it (left alone).
TEST(GradClip, OnTheDeviceAsClipGradNormDoes) {
  ResNeXt model(tiny_spec());
  for (const double max_norm : {1e-3, 1e6}) {
    const std::vector<torch::Tensor> grads = backward_once(model);
    const double expected_norm = torch::nn::utils::clip_grad_norm_(model->parameters(), max_norm);
    std::vector<torch::Tensor> expected;
    for (const auto& p : model->parameters()) expected.push_back(p.grad().clone());
    for (size_t i = 0; i < grads.size(); ++i) model->parameters()[i].mutable_grad().copy_(grads[i]);

    const torch::Tensor norm = clip_grad_norm_on_device(model->parameters(), max_norm);
    EXPECT_NEAR(norm.item<double>(), expected_norm, 1e-6 * expected_norm) << max_norm;
    bool scaled = false;
    for (size_t i = 0; i < grads.size(); ++i) {
      const torch::Tensor got = model->parameters()[i].grad();
      EXPECT_LE((got - expected[i]).abs().max().item<double>(), 1e-6) << "parameter " << i;
      scaled = scaled || !got.equal(grads[i]);
    }
    EXPECT_EQ(scaled, max_norm < expected_norm) << max_norm;  // clipping happened iff needed
  }
  ResNeXt no_grads(tiny_spec());
  EXPECT_FALSE(clip_grad_norm_on_device(no_grads->parameters(), 1.0).defined());
}

// A clipped optimizer step (what Trainer::apply_update runs) reads no scalar off the device;
// LibTorch's clip_grad_norm_, which returns the norm as a double, does - the count sees it.
TEST(HostSyncs, AClippedOptimizerStepReadsNothingBack) {
  ResNeXt model(tiny_spec());
  for (const OptimizerKind kind : {OptimizerKind::kSgd, OptimizerKind::kAdamW}) {
    OptimConfig oc = optim(ScheduleKind::kConstant);
    oc.name = kind;
    oc.momentum = 0.9;
    auto optimizer = make_optimizer(oc, *model, 1e-3).optimizer;
    for (int step = 0; step < 2; ++step) {
      backward_once(model);
      const ScalarReads reads;
      clip_grad_norm_on_device(model->parameters(), 1e-3);
      optimizer->step();
      EXPECT_EQ(reads.value(), 0) << "step " << step;
    }
  }
  backward_once(model);
  const ScalarReads reads;
  torch::nn::utils::clip_grad_norm_(model->parameters(), 1e-3);
  EXPECT_GE(reads.value(), 1) << "the counter did not see clip_grad_norm_'s read";
}

// On a GPU (tests/gpu/check.sh runs this): training steps as the trainer takes them - a pinned
// batch copied on the side stream (eval/forward.h to_device), forward, backward, device-side
// clipping, the optimizer - with CUDA's sync debug mode set to error, under which any call that
// waits for the device throws. Suite GpuOnly: ctest leaves it out (tests/CMakeLists.txt), and it
// fails, saying why, where it cannot run.
TEST(GpuOnly, TrainingStepsNeverWaitForTheDevice) {
#if defined(NXT_TORCH_HAS_CUDA)
  if (!torch::cuda::is_available()) FAIL() << "no CUDA device: run by tests/gpu/check.sh on a GPU";
  const torch::Device cuda(torch::kCUDA, 0);
  ResNeXt model(tiny_spec());
  model->to(cuda);
  OptimConfig oc = optim(ScheduleKind::kConstant);
  oc.momentum = 0.9;
  auto optimizer = make_optimizer(oc, *model, 1e-3).optimizer;
  const Normalizer normalize(kImageNetMean, kImageNetStd, cuda);
  Batch batch;
  batch.images = torch::randint(0, 256, {8, 32, 32, 3}, torch::kUInt8).pin_memory();
  batch.labels = torch::randint(0, 3, {8}, torch::kLong).pin_memory();
  const auto step = [&] {
    const DeviceBatch input = to_device(batch, normalize, /*channels_last=*/true);
    torch::nn::functional::cross_entropy(model->forward(input.images), input.labels).backward();
    clip_grad_norm_on_device(model->parameters(), 1e-3);
    optimizer->step();
    optimizer->zero_grad();
  };
  step();  // the first one creates cuDNN/cuBLAS handles and fills the allocator
  torch::cuda::synchronize();
  c10::cuda::warning_state().set_sync_debug_mode(c10::cuda::SyncDebugMode::L_ERROR);
  std::string error;
  try {
    for (int i = 0; i < 3; ++i) step();
  } catch (const std::exception& e) {
    error = e.what();
  }
  c10::cuda::warning_state().set_sync_debug_mode(c10::cuda::SyncDebugMode::L_DISABLED);
  torch::cuda::synchronize();
  EXPECT_EQ(error, "") << "a training step waited for the device";
  for (const auto& p : model->parameters()) ASSERT_TRUE(p.isfinite().all().item<bool>());
#else
  FAIL() << "built without CUDA: run by tests/gpu/check.sh in the CUDA build on a GPU";
#endif
}

// DeviceTotals sums in the same fixed point as MetricTotals::add_per_sample, batch by batch.
TEST(HostSyncs, DeviceTotalsEqualTheHostSums) {
  torch::manual_seed(5);
  MetricTotals host;
  DeviceTotals device;
  EXPECT_EQ(device.read().seen, 0);
  for (int batch = 0; batch < 5; ++batch) {
    const torch::Tensor losses = torch::rand({7}) * 3;
    const torch::Tensor correct = torch::tensor(int64_t{batch + 1});
    host.add_per_sample(losses, batch + 1);
    device.add(losses, correct, correct + 2);
  }
  const MetricTotals read = device.read();
  EXPECT_EQ(read.loss_micros, host.loss_micros);
  EXPECT_EQ(read.correct, 15);
  EXPECT_EQ(read.top5_correct, 25);
  EXPECT_EQ(read.seen, 35);
}

// An evaluation reads its totals (and nxt_eval's details) back once per shard, however many
// batches the shard has: the same count at 4 and at 16 samples per batch. Its totals and details
// agree with each other.
TEST(HostSyncs, AnEvaluationReadsOncePerShardNotPerBatch) {
  testing_support::TempDir dir("eval_reads");
  testing_support::make_demo_pack(dir.path("images"), dir.path("demo.h5"));
  const PackedDataset dataset(dir.path("demo.h5"));
  const ImageReader reader(dataset, "train");
  ResNeXt model(tiny_spec());
  model->eval();
  torch::NoGradGuard no_grad;
  const Normalizer normalize(kImageNetMean, kImageNetStd, torch::kCPU);
  EvalSetup setup;
  setup.reader = &reader;
  setup.normalize = &normalize;
  setup.loader.output = {32, 32};
  setup.loader.threads = 2;
  std::vector<int64_t> reads_per_batch_size;
  for (const int64_t batch_size : {4, 16}) {
    setup.loader.batch_size = batch_size;
    ASSERT_GE(reader.size() / batch_size, 4) << "too few batches to tell per-batch reads";
    for (const bool with_details : {false, true}) {
      EvalDetails details{ConfusionMatrix(3), {}};
      details.predicted.assign(static_cast<size_t>(reader.size()), 0);
      MetricTotals totals;
      int64_t reads = 0;
      {
        const ScalarReads counted;
        totals = evaluate_shard(model, setup, {0, 1}, with_details ? &details : nullptr);
        reads = counted.value();
      }
      reads_per_batch_size.push_back(reads);
      EXPECT_LE(reads, 2) << "batch " << batch_size << (with_details ? ", details" : "");
      EXPECT_EQ(totals.seen, reader.size());
      if (!with_details) continue;
      EXPECT_EQ(details.confusion.total(), reader.size());
      int64_t right = 0;
      for (int64_t i = 0; i < reader.size(); ++i) {
        const int64_t predicted = details.predicted[static_cast<size_t>(i)] - 1;
        ASSERT_GE(predicted, 0) << "sample " << i << " not evaluated";
        right += predicted == reader.label(i);
      }
      EXPECT_EQ(right, totals.correct);
    }
  }
  EXPECT_EQ(reads_per_batch_size[0], reads_per_batch_size[2]) << "reads grow with the batches";
  EXPECT_EQ(reads_per_batch_size[1], reads_per_batch_size[3]) << "reads grow with the batches";
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
