// The step profiler (train/step_profiler.h) on this build's LibTorch: with Kineto (the PyTorch
// wheels) a window of steps becomes a trace file with the steps, the phase ranges inside them
// and the ops with shapes; without it (Debian's 1.13) a window is refused with an error naming
// the key, and no window costs nothing on either.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/check.h"
#include "common/compat.h"
#include "common/fs.h"
#include "common/phase_range.h"
#include "test_support.h"
#include "train/step_profiler.h"

namespace nxt {
namespace {

namespace fs = std::filesystem;
using testing_support::TempDir;

// Global steps 1..steps, each a "forward" phase around a convolution on `device`.
void run_steps(StepProfiler& profiler, int64_t steps, torch::Device device = torch::kCPU) {
  const torch::Tensor weight = torch::randn({4, 3, 3, 3}, device);
  for (int64_t step = 1; step <= steps; ++step) {
    profiler.before_step(step);
    {
      const PhaseRange range("forward");
      torch::conv2d(torch::randn({2, 3, 8, 8}, device), weight);
    }
    profiler.after_step(step);
  }
}

// Without Kineto, what a window must get: an error naming the key and the missing profiler.
void expect_refused(const std::string& path) {
  try {
    StepProfiler refused({2, 3}, path, 1, 2, "mpi", torch::kCPU);
    FAIL() << "a window was accepted on a LibTorch without Kineto";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("run.profile_steps"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Kineto"), std::string::npos) << e.what();
  }
}

TEST(StepProfiler, AWindowBecomesATraceOfItsStepsPhasesAndOps) {
  const TempDir dir("profiler");
  const std::string path = dir.path("profile/rank1.pt.trace.json");
  if (!compat::kineto_traces_available()) return expect_refused(path);
  {
    StepProfiler profiler({2, 3}, path, 1, 2, "mpi", torch::kCPU);
    run_steps(profiler, 4);
    ASSERT_TRUE(fs::exists(path)) << "no trace after the window's last step";
  }
  const auto trace = nlohmann::json::parse(read_file_text(path));
  EXPECT_EQ(trace["distributedInfo"]["rank"], 1);
  EXPECT_EQ(trace["distributedInfo"]["world_size"], 2);
  std::vector<std::string> steps;
  int forwards = 0, convolutions_with_shapes = 0;
  for (const auto& event : trace["traceEvents"]) {
    const std::string name = event.value("name", "");
    if (name.rfind("ProfilerStep#", 0) == 0) steps.push_back(name);
    if (name == "forward" && event.value("cat", "") == "user_annotation") ++forwards;
    if (name == "aten::conv2d" && event["args"]["Input Dims"][0] == nlohmann::json({2, 3, 8, 8}))
      ++convolutions_with_shapes;
  }
  std::sort(steps.begin(), steps.end());
  EXPECT_EQ(steps, (std::vector<std::string>{"ProfilerStep#2", "ProfilerStep#3"}));
  EXPECT_EQ(forwards, 2) << "steps 1 and 4 are outside the window";
  EXPECT_EQ(convolutions_with_shapes, 2);
}

TEST(StepProfiler, ARunEndingInsideTheWindowStillWritesItsTrace) {
  const TempDir dir("profiler_cut");
  const std::string path = dir.path("rank0.pt.trace.json");
  if (!compat::kineto_traces_available()) return expect_refused(path);
  {
    StepProfiler profiler({2, 10}, path, 0, 1, "mpi", torch::kCPU);
    run_steps(profiler, 3);
    EXPECT_FALSE(fs::exists(path)) << "written before the window or the run ended";
    profiler.end_of_training();
  }
  const std::string text = read_file_text(path);
  EXPECT_NE(text.find("ProfilerStep#3"), std::string::npos);
  EXPECT_EQ(text.find("ProfilerStep#4"), std::string::npos);
}

TEST(StepProfiler, ARunFailingInsideTheWindowWritesNoTrace) {
  const TempDir dir("profiler_failing");
  const std::string path = dir.path("rank0.pt.trace.json");
  if (!compat::kineto_traces_available()) return expect_refused(path);
  try {
    StepProfiler profiler({1, 10}, path, 0, 1, "mpi", torch::kCPU);
    run_steps(profiler, 2);
    throw Error("a rank fails inside the window");
  } catch (const Error&) {
  }
  EXPECT_FALSE(fs::exists(path)) << "a failing rank flushed and wrote its trace";
  EXPECT_FALSE(at::hasCallbacks()) << "the profiler still records";
}

TEST(StepProfiler, NoWindowStartsNothing) {
  const TempDir dir("profiler_off");
  {
    StepProfiler profiler({}, dir.path("rank0.pt.trace.json"), 0, 1, "mpi", torch::kCPU);
    run_steps(profiler, 3);
  }
  EXPECT_TRUE(fs::is_empty(dir.dir()));
  EXPECT_FALSE(at::hasCallbacks()) << "a phase range would be recorded with no profiler";
}

// On a GPU the same window holds the CUDA kernels too (Kineto's CUPTI activities): what the
// CPU suite cannot check, run by tests/gpu/check.sh (GpuOnly.*).
TEST(GpuOnly, StepProfilerRecordsTheCudaKernels) {
  if (!torch::cuda::is_available()) FAIL() << "no CUDA device: run by tests/gpu/check.sh on a GPU";
  const TempDir dir("profiler_cuda");
  const std::string path = dir.path("rank0.pt.trace.json");
  const torch::Device cuda(torch::kCUDA, 0);
  {
    StepProfiler profiler({1, 2}, path, 0, 1, "nccl", cuda);
    run_steps(profiler, 2, cuda);
  }
  int kernels = 0;
  for (const auto& event : nlohmann::json::parse(read_file_text(path))["traceEvents"])
    if (event.value("cat", "") == "kernel") ++kernels;
  EXPECT_GE(kernels, 2) << "no CUDA kernel in the trace of two steps with a convolution each";
}

}  // namespace
}  // namespace nxt
