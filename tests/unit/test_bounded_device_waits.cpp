// On a GPU (tests/gpu/check.sh runs suite GpuOnly): the host waits for the device of the step
// timer (train/step_timer.h), the step's metric reads (train/metrics.h) and the preflight's
// compute probe (preflight/compute_probe.h) end with an Error naming the rank, what waited and
// the limit behind a GPU that does not finish in time, where a blocking synchronize would wait
// for as long as the GPU takes (for ever behind a stuck one); and a query of pending work leaves
// no error for the next launch (Note [CUDA queries]). A spin kernel (at::cuda::sleep) stands in for
// the stuck GPU. Suite GpuOnly: ctest leaves it out (tests/CMakeLists.txt), and it fails, saying
// why, where it cannot run.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/config.h"
#include "preflight/compute_probe.h"
#include "test_support.h"
#include "train/metrics.h"
#include "train/step_timer.h"
#if defined(NXT_TORCH_HAS_CUDA)
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/Sleep.h>
#include <c10/cuda/CUDAStream.h>

#include "comm/cuda_query.h"
#endif

namespace nxt {
namespace {

#if defined(NXT_TORCH_HAS_CUDA)
using Clock = std::chrono::steady_clock;
constexpr int64_t kStuckSeconds = 4;  // how long the spin keeps the GPU busy, at least
const std::chrono::seconds kLimit{1};

// Queues a kernel that keeps the current stream of device 0 busy for at least `seconds`: it
// spins for that many cycles of a 2.1 GHz clock, above any data-centre GPU's.
void occupy_gpu(int64_t seconds) {
  at::cuda::sleep(seconds * 2'100'000'000);
}

// Waits (bounded) until the current stream of device 0 is idle, so that the next test starts on
// an idle GPU.
void drain_gpu() {
  at::cuda::CUDAEvent done;
  done.record(c10::cuda::getCurrentCUDAStream(0));
  wait_for_cuda_event(done.event(), std::chrono::seconds(60), 0, "the test's drain");
}

// Runs `wait` behind a busy GPU: it must throw, after the limit but long before the GPU is done,
// a message holding every one of `pieces`.
void expect_bounded(const std::function<void()>& wait, const std::vector<std::string>& pieces) {
  const auto start = Clock::now();
  const std::string error = testing_support::error_of(wait);
  const double waited = std::chrono::duration<double>(Clock::now() - start).count();
  for (const std::string& piece : pieces)
    EXPECT_NE(error.find(piece), std::string::npos) << "no '" << piece << "' in: " << error;
  EXPECT_GE(waited, static_cast<double>(kLimit.count())) << error;
  EXPECT_LT(waited, static_cast<double>(kStuckSeconds) - 0.5)
      << "the wait lasted as long as the GPU was busy: " << error;
}
#endif

TEST(GpuOnly, StepTimerCollectEndsBehindAStuckGpu) {
#if defined(NXT_TORCH_HAS_CUDA)
  if (!torch::cuda::is_available()) FAIL() << "no CUDA device: run by tests/gpu/check.sh on a GPU";
  const torch::Device cuda(torch::kCUDA, 0);
  StepTimer timer(cuda, DeviceWaitLimit{3, kLimit});
  timer.start_step();
  occupy_gpu(kStuckSeconds);
  timer.end(StepTimer::kCompute);
  expect_bounded([&] { timer.collect(); },
                 {"rank 3: the GPU work of the steps since the last metric read (the step timer's "
                  "events) has not finished after",
                  "(dist.timeout_s = 1)"});
  drain_gpu();
  // Nothing was lost: once the GPU is done, the same intervals add up, the spin included.
  timer.collect();
  EXPECT_GE(timer.seconds()[StepTimer::kCompute], static_cast<double>(kStuckSeconds) - 0.5);
#else
  FAIL() << "built without CUDA: run by tests/gpu/check.sh in the CUDA build on a GPU";
#endif
}

TEST(GpuOnly, PreflightComputeProbeEndsBehindAStuckGpu) {
#if defined(NXT_TORCH_HAS_CUDA)
  if (!torch::cuda::is_available()) FAIL() << "no CUDA device: run by tests/gpu/check.sh on a GPU";
  const torch::Device cuda(torch::kCUDA, 0);
  Config config;
  config.model.arch = ModelArch::kCustom;
  config.model.blocks = {1, 1};
  config.model.cardinality = 4;
  config.model.width_per_group = 8;
  config.model.stem_width = 16;
  config.model.stem = StemKind::kCifar;
  config.data.batch_size = 8;
  config.data.image_size = 32;
  ComputeProbe probe(config, 3, cuda, 2, PreflightLimit{kLimit, "the preflight's cap"});
  // One unhindered step first: the first launch of each kernel may load its module (CUDA's lazy
  // loading), which can wait for the context, here the spin; that is not the wait under test.
  probe.measure(0.01, SlowDown());
  drain_gpu();  // the probe's inputs are ready: only the spin below holds the GPU
  occupy_gpu(kStuckSeconds);
  expect_bounded([&] { probe.measure(0.05, SlowDown()); },
                 {"rank 2: the preflight's compute probe (a forward + backward on cuda:0)",
                  "(the preflight's cap = 1)"});
  drain_gpu();
  EXPECT_GE(probe.measure(0.05, SlowDown()).steps, 1);
#else
  FAIL() << "built without CUDA: run by tests/gpu/check.sh in the CUDA build on a GPU";
#endif
}

TEST(GpuOnly, StepMetricsReadEndsBehindAStuckGpu) {
#if defined(NXT_TORCH_HAS_CUDA)
  if (!torch::cuda::is_available()) FAIL() << "no CUDA device: run by tests/gpu/check.sh on a GPU";
  const torch::Device cuda(torch::kCUDA, 0);
  StepMetrics metrics(cuda, DeviceWaitLimit{4, kLimit});
  const auto options = torch::TensorOptions().device(cuda);
  metrics.start_step();
  metrics.add(torch::ones({}, options), torch::eye(2, options),
              torch::arange(2, options.dtype(torch::kLong)));
  metrics.commit();
  drain_gpu();
  occupy_gpu(kStuckSeconds);
  expect_bounded([&] { metrics.read(); },
                 {"rank 4: the training metrics since the last read", "(dist.timeout_s = 1)"});
  drain_gpu();
  const StepMetrics::Read read = metrics.read();  // nothing was lost
  EXPECT_EQ(read.totals.seen, 2);
#else
  FAIL() << "built without CUDA: run by tests/gpu/check.sh in the CUDA build on a GPU";
#endif
}

// Note [CUDA queries]: asking about pending work must leave no error behind for PyTorch's next
// launch check (C10_CUDA_KERNEL_LAUNCH_CHECK reads cudaGetLastError), which would throw
// "device not ready" for a launch that succeeded: the crash the first NCCL wait would have hit.
TEST(GpuOnly, QueriesOfPendingWorkLeaveNoErrorForTheNextLaunch) {
#if defined(NXT_TORCH_HAS_CUDA)
  if (!torch::cuda::is_available()) FAIL() << "no CUDA device: run by tests/gpu/check.sh on a GPU";
  const torch::Device cuda(torch::kCUDA, 0);
  const auto stream = c10::cuda::getCurrentCUDAStream(0);
  occupy_gpu(1);
  at::cuda::CUDAEvent pending;
  pending.record(stream);
  EXPECT_FALSE(cuda_event_done(pending.event())) << "the spin had ended: nothing was pending";
  EXPECT_FALSE(cuda_stream_idle(stream.stream()));
  EXPECT_EQ(cudaPeekAtLastError(), cudaSuccess) << "a query left cudaErrorNotReady behind";
  EXPECT_NO_THROW((torch::ones({8}, torch::TensorOptions().device(cuda)) * 2).sum())
      << "the next launch check saw a stale error";
  drain_gpu();
  EXPECT_TRUE(cuda_event_done(pending.event()));
  EXPECT_TRUE(cuda_stream_idle(stream.stream()));
#else
  FAIL() << "built without CUDA: run by tests/gpu/check.sh in the CUDA build on a GPU";
#endif
}

}  // namespace
}  // namespace nxt
