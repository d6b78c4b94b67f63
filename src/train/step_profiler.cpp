// Implements the step profiler (Note [Step profiles] in train/step_profiler.h) on LibTorch's
// Kineto profiler: enableProfiler / disableProfiler around the window, the trace saved beside
// its final name and renamed into place.
#include "train/step_profiler.h"

#include <torch/csrc/autograd/profiler_kineto.h>

#include <exception>
#include <filesystem>
#include <set>

#include "common/check.h"
#include "common/compat.h"
#include "common/fs.h"
#include "common/log.h"

// Declared in torch/csrc/profiler/kineto_shim.h (the same in 1.13 and 2.x), which cannot be
// included: it needs libkineto's headers, which LibTorch does not ship.
namespace torch::autograd::profiler {
TORCH_API void addMetadataJson(const std::string& key, const std::string& value);
}

namespace nxt {
namespace {

namespace profiler = torch::autograd::profiler;
using torch::profiler::impl::ActivityType;
using torch::profiler::impl::ProfilerConfig;
using torch::profiler::impl::ProfilerState;

std::string window_text(int64_t first, int64_t last) {
  return first == last ? "step " + std::to_string(first)
                       : "steps " + std::to_string(first) + "-" + std::to_string(last);
}

}  // namespace

StepProfiler::StepProfiler(StepWindow window, std::string trace_path, int rank, int world_size,
                           std::string backend, torch::Device device)
    : window_(window),
      trace_path_(std::move(trace_path)),
      rank_(rank),
      world_size_(world_size),
      backend_(std::move(backend)),
      device_(device) {
  if (window_.empty()) return;
  if (!compat::kineto_traces_available())
    throw Error("run.profile_steps: this build's LibTorch " TORCH_VERSION
                " has no Kineto profiler, so it cannot write a trace (Debian's 1.13 is built "
                "without it); build nxt against the PyTorch wheels (NXT_TORCH=venv "
                "launch/build.sh), or set run.profile_steps to [0, 0]");
}

StepProfiler::~StepProfiler() {
  if (!active_) return;
  try {
    if (std::uncaught_exceptions() > 0) {
      log::all() << "profile: rank " << rank_ << " is failing inside run.profile_steps; "
                 << trace_path_ << " is not written";
      step_range_.reset();
      if (!device_.is_cuda()) profiler::disableProfiler();  // no GPU to wait for: stop recording
      return;
    }
    end_of_training();
  } catch (...) {
    log::all() << "profile: could not write " << trace_path_;
  }
}

void StepProfiler::end_of_training() {
  if (!active_) return;
  log::all() << "profile: training ended inside run.profile_steps; writing what was recorded";
  finish(last_recorded_);
}

void StepProfiler::before_step(int64_t step) {
  if (done_ || !window_.contains(step)) return;
  if (!active_) start(step);
  step_range_ = std::make_unique<at::RecordFunction>(at::RecordScope::USER_SCOPE);
  if (step_range_->isActive()) step_range_->before("ProfilerStep#" + std::to_string(step));
}

void StepProfiler::after_step(int64_t step) {
  if (!active_) return;
  step_range_.reset();  // ends the step's range
  last_recorded_ = step;
  if (step >= window_.last) finish(step);
}

void StepProfiler::start(int64_t step) {
  std::set<ActivityType> activities{ActivityType::CPU};
  if (device_.is_cuda()) activities.insert(ActivityType::CUDA);
  const ProfilerConfig config(ProfilerState::KINETO, /*report_input_shapes=*/true,
                              /*profile_memory=*/true, /*with_stack=*/false,
                              /*with_flops=*/true);
  profiler::prepareProfiler(config, activities);
  profiler::enableProfiler(config, activities);
  active_ = true;
  first_recorded_ = step;
  log::info() << "profile: recording " << window_text(step, window_.last) << " on every rank";
}

void StepProfiler::finish(int64_t last_step) {
  step_range_.reset();
  active_ = false;
  done_ = true;
  // What HTA and PyTorch's own traces use to tell the ranks apart.
  profiler::addMetadataJson(
      "distributedInfo", "{\"backend\": \"" + backend_ + "\", \"rank\": " + std::to_string(rank_) +
                             ", \"world_size\": " + std::to_string(world_size_) + "}");
  const std::unique_ptr<profiler::ProfilerResult> result = profiler::disableProfiler();
  make_dirs(std::filesystem::path(trace_path_).parent_path().string());
  const std::string temp = temp_path_for(trace_path_);
  result->save(temp);
  publish_temp_file(temp, trace_path_);
  log::all() << "profile: rank " << rank_ << " wrote " << window_text(first_recorded_, last_step)
             << " to " << trace_path_ << " (" << result->events().size() << " events)";
}

}  // namespace nxt
