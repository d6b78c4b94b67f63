// Implements bucket assignment, gradient views, the readiness hooks and in-order launching.
#include "comm/reducer.h"

#include <torch/csrc/autograd/utils/lambda_post_hook.h>

#include <mutex>

#include "common/check.h"
#include "common/compat.h"
#include "common/phase_range.h"

namespace nxt {

struct Reducer::State {
  struct Bucket {
    std::vector<size_t> members;  // indices into parameters
    torch::Tensor buffer;         // flat; each member's .grad is a view into it
    size_t pending = 0;           // members not yet ready in this step
    std::shared_ptr<CommWork> work;
  };

  std::vector<NamedTensor> parameters;
  std::vector<size_t> bucket_of;  // per parameter
  std::vector<bool> ready;
  std::vector<Bucket> buckets;
  std::vector<BucketTiming> timings;
  std::shared_ptr<CommWork> last_work;                   // the last synced step's last bucket
  std::vector<compat::GradAccumulatorPtr> accumulators;  // keeps the hooks alive
  Communicator* comm = nullptr;
  ReducerOptions options;
  bool sync = true;
  size_t next_to_launch = 0;
  std::mutex mutex;

  void assign_buckets() {
    const double limit = options.bucket_mb * 1024 * 1024;
    double filled = 0;
    for (size_t k = parameters.size(); k-- > 0;) {  // reverse registration order
      const torch::Tensor& p = parameters[k].tensor;
      const bool new_bucket =
          buckets.empty() || filled >= limit || options.bucket_mb <= 0 ||
          parameters[buckets.back().members.front()].tensor.scalar_type() != p.scalar_type();
      if (new_bucket) {
        buckets.emplace_back();
        filled = 0;
      }
      buckets.back().members.push_back(k);
      bucket_of[k] = buckets.size() - 1;
      filled += static_cast<double>(p.numel() * p.element_size());
    }
  }

  // The view takes the parameter's own strides (channels-last conv weights included), as
  // PyTorch DDP does, so autograd accumulates into it without a layout change (and without
  // LibTorch's "gradient layout contract" warning). On the CPU, demo config, 2 ranks, A/B runs
  // of either layout were within this machine's noise (220-330 img/s both).
  static torch::Tensor gradient_view(const torch::Tensor& buffer, int64_t offset,
                                     const NamedTensor& parameter) {
    const torch::Tensor& p = parameter.tensor;
    NXT_CHECK(p.is_non_overlapping_and_dense(), "parameter '", parameter.name,
              "' is not dense; its gradient cannot be a bucket view");
    return buffer.as_strided(p.sizes(), p.strides(), offset);
  }

  void make_gradient_views() {
    for (auto& bucket : buckets) {
      int64_t total = 0;
      for (size_t k : bucket.members) total += parameters[k].tensor.numel();
      const torch::Tensor& first = parameters[bucket.members.front()].tensor;
      bucket.buffer = torch::zeros({total}, first.options().requires_grad(false));
      int64_t offset = 0;
      for (size_t k : bucket.members) {
        torch::Tensor& p = parameters[k].tensor;
        p.mutable_grad() = gradient_view(bucket.buffer, offset, parameters[k]);
        offset += p.numel();
      }
    }
  }

  void mark_ready(size_t k) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!sync || ready[k]) return;
    ready[k] = true;
    --buckets[bucket_of[k]].pending;
    launch_ready_buckets();
  }

  // Launches buckets in order, as far as they are complete.
  void launch_ready_buckets() {
    while (next_to_launch < buckets.size() && buckets[next_to_launch].pending == 0) launch_next();
  }

  void launch_next() {
    Bucket& bucket = buckets[next_to_launch];
    timings[next_to_launch].launched = CommWork::Clock::now();
    // Nsight Systems projects the range onto the NCCL kernel launched inside it.
    const PhaseRange range(phase_ranges_recorded()
                               ? "all-reduce bucket " + std::to_string(next_to_launch)
                               : std::string());
    bucket.work = comm->all_reduce_async(bucket.buffer, ReduceOp::kAverage,
                                         static_cast<int64_t>(next_to_launch));
    ++next_to_launch;
  }

  // Ready for the next synced backward.
  void reset_step() {
    std::fill(ready.begin(), ready.end(), false);
    for (auto& bucket : buckets) {
      bucket.pending = bucket.members.size();
      bucket.work.reset();
    }
    next_to_launch = 0;
  }

  std::string unready_names() const {
    std::string names;
    int listed = 0;
    for (size_t k = 0; k < parameters.size(); ++k) {
      if (ready[k]) continue;
      if (listed++ < 8) names += (names.empty() ? "'" : ", '") + parameters[k].name + "'";
    }
    if (listed > 8) names += " and " + std::to_string(listed - 8) + " more";
    return names;
  }
};

Reducer::Reducer(std::vector<NamedTensor> parameters, Communicator& comm, ReducerOptions options)
    : state_(std::make_shared<State>()) {
  State& s = *state_;
  NXT_CHECK(!parameters.empty(), "the reducer needs at least one trainable parameter");
  s.parameters = std::move(parameters);
  s.comm = &comm;
  s.options = options;
  s.bucket_of.resize(s.parameters.size());
  s.ready.assign(s.parameters.size(), false);
  s.assign_buckets();
  s.timings.resize(s.buckets.size());
  s.make_gradient_views();
  s.reset_step();
  std::weak_ptr<State> weak = state_;
  for (size_t k = 0; k < s.parameters.size(); ++k) {
    auto accumulator = torch::autograd::impl::grad_accumulator(s.parameters[k].tensor);
    NXT_CHECK(accumulator, "parameter '", s.parameters[k].name, "' does not require grad");
    accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [weak, k](const torch::autograd::variable_list& outputs,
                  const torch::autograd::variable_list&) {
          if (auto state = weak.lock()) state->mark_ready(k);
          return outputs;
        }));
    s.accumulators.push_back(std::move(accumulator));
  }
}

Reducer::~Reducer() = default;

void Reducer::set_sync(bool sync) {
  state_->sync = sync;
}

void Reducer::zero_grad() {
  torch::NoGradGuard no_grad;
  for (auto& bucket : state_->buckets) bucket.buffer.zero_();
}

void Reducer::finish_backward() {
  State& s = *state_;
  if (!s.sync) return;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.next_to_launch < s.buckets.size()) {
      NXT_CHECK(s.options.allow_unused_parameters, "parameter(s) ", s.unready_names(),
                " got no gradient in this step. Every rank must use every parameter in each "
                "step; if some are unused by design, set dist.allow_unused_parameters: true");
      while (s.next_to_launch < s.buckets.size()) s.launch_next();
    }
  }
  for (size_t b = 0; b < s.buckets.size(); ++b) {
    s.buckets[b].work->wait();
    s.timings[b].work = s.buckets[b].work;  // on a GPU its times are known once it has run
  }
  if (!s.buckets.empty()) s.last_work = s.buckets.back().work;  // launched last, done last
  std::lock_guard<std::mutex> lock(s.mutex);
  s.reset_step();
}

void Reducer::wait_on_host() {
  if (state_->last_work) state_->last_work->wait_on_host();
}

int64_t Reducer::bucket_count() const {
  return static_cast<int64_t>(state_->buckets.size());
}

std::vector<std::vector<std::string>> Reducer::bucket_layout() const {
  std::vector<std::vector<std::string>> layout;
  for (const auto& bucket : state_->buckets) {
    layout.emplace_back();
    for (size_t k : bucket.members) layout.back().push_back(state_->parameters[k].name);
  }
  return layout;
}

std::vector<BucketTiming> Reducer::last_timings() const {
  std::vector<BucketTiming> timings = state_->timings;
  for (BucketTiming& t : timings) {
    if (!t.work) continue;
    t.started = t.work->started();
    t.finished = t.work->finished();
  }
  return timings;
}

}  // namespace nxt
