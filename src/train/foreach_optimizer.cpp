// Implements the multi-tensor optimizers: LibTorch's Adam, AdamW and SGD updates and LARS, each
// batched over a parameter group with at::_foreach_* (Note [Foreach optimizers]).
#include "train/foreach_optimizer.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <map>
#include <memory>

#include "common/compat.h"

namespace nxt {
namespace {

using Tensors = std::vector<torch::Tensor>;
using LossClosure = torch::optim::Optimizer::LossClosure;

// The parameters of a group that have a gradient, and their gradients, in the same order.
struct WithGradients {
  Tensors params;
  Tensors grads;
  void add(const torch::Tensor& param) {
    TORCH_CHECK(!param.grad().is_sparse(), "nxt's optimizers do not support sparse gradients");
    params.push_back(param);
    grads.push_back(param.grad());
  }
};

WithGradients with_gradients(torch::optim::OptimizerParamGroup& group) {
  WithGradients found;
  for (const auto& p : group.params())
    if (p.grad().defined()) found.add(p);
  return found;
}

// The step() frame of every torch::optim optimizer: no autograd for the update, the closure
// (when given) evaluated with it, its loss returned.
template <class UpdateGroups>
torch::Tensor step_with(const LossClosure& closure, UpdateGroups update_groups) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    torch::AutoGradMode enable_grad(true);
    loss = closure();
  }
  update_groups();
  return loss;
}

// The state of `p` in `state`, created by `make` at its first step.
template <class State, class StateMap, class Make>
State& state_of(StateMap& state, const torch::Tensor& p, Make make) {
  const auto key = compat::optimizer_state_key<StateMap>(p);
  auto found = state.find(key);
  if (found == state.end()) found = state.emplace(key, make()).first;
  return static_cast<State&>(*found->second);
}

// Note [Batches of a step]
// On a GPU a batch is every tensor of a group (of a step count, for Adam): a handful of kernel
// launches a step. On a CPU a "launch" is a function call and the update is memory-bound, and a
// batch of every tensor makes each temporary for all 25M values at once (fresh pages every step)
// and streams everything through memory once per operation: measured 1 to 3 times slower than
// torch::optim's loop over tensors (docs/performance.md). There a batch is one tensor: the same
// code and arithmetic, with torch::optim's locality.
thread_local bool whole_group_batches_on_cpu = false;  // WholeGroupBatchesOnCpu

template <class Update>
void in_batches(const Tensors& params, const Update& update) {
  if (params.empty()) return;  // (the at::_foreach_* functions refuse empty lists)
  if (!params.front().is_cpu() || whole_group_batches_on_cpu) return update(0, params.size());
  for (size_t i = 0; i < params.size(); ++i) update(i, 1);
}

at::TensorList part(const Tensors& list, size_t first, size_t count) {
  return at::TensorList(list).slice(first, count);
}

// torch::optim::Adam::step's (decoupled_decay false) or AdamW::step's (true) update of one
// batch of parameters that share the step count `step` (already advanced).
template <class Options>
void adam_update(at::TensorList params, at::TensorList grads, at::TensorList exp_avg,
                 at::TensorList exp_avg_sq, int64_t step, const Options& options,
                 bool decoupled_decay) {
  const double beta1 = std::get<0>(options.betas());
  const double beta2 = std::get<1>(options.betas());
  const double lr = options.lr();
  const double decay = options.weight_decay();
  const double bias_correction1 = 1 - std::pow(beta1, step);
  const double bias_correction2 = 1 - std::pow(beta2, step);
  Tensors decayed;
  if (decay != 0) {
    if (decoupled_decay) {
      at::_foreach_mul_(params, 1 - lr * decay);
    } else {
      decayed = at::_foreach_add(grads, params, decay);
      grads = decayed;
    }
  }
  at::_foreach_mul_(exp_avg, beta1);
  at::_foreach_add_(exp_avg, grads, 1 - beta1);
  at::_foreach_mul_(exp_avg_sq, beta2);
  at::_foreach_addcmul_(exp_avg_sq, grads, grads, 1 - beta2);
  Tensors denominators = at::_foreach_sqrt(exp_avg_sq);
  at::_foreach_div_(denominators, std::sqrt(bias_correction2));
  at::_foreach_add_(denominators, options.eps());
  at::_foreach_addcdiv_(params, exp_avg, denominators, -lr / bias_correction1);
}

// Note [Adam in one pass on the CPU]
// On the CPU the update is memory-bound, and the foreach form streams each tensor through memory
// once per operation: 8 passes (two of them writing a temporary) over 25M values a step for
// ResNeXt-50. For a CPU float tensor whose gradient and moments share its layout (the usual
// case: the moments are made with the parameter's strides, the gradient is a bucket view with
// them) the same arithmetic runs in one pass over the four arrays, split over the intra-op
// threads. Results agree with torch::optim::Adam to float rounding, not bitwise (the foreach
// form's FMA and vector paths round differently); measured at 224px, batch 8, 2 cores: the
// optimizer's 85-100 ms a step fell to 22-26 ms (docs/performance.md). Anything else takes the
// foreach form.
bool same_dense_float_layout(const torch::Tensor& p, std::initializer_list<torch::Tensor> others) {
  if (!p.is_cpu() || p.scalar_type() != torch::kFloat || !p.is_non_overlapping_and_dense())
    return false;
  for (const torch::Tensor& t : others)
    if (!t.is_cpu() || t.scalar_type() != torch::kFloat || t.sizes() != p.sizes() ||
        t.strides() != p.strides())
      return false;
  return true;
}

struct AdamScalars {
  float beta1, beta2, param_scale, grad_decay, inverse_bias_correction2_sqrt, negative_step_size,
      eps;
};

// Elements [begin, end) of the update, built for AVX2 and for the baseline ISA, the one the CPU
// has chosen at load time (GCC function multiversioning): the loop is memory-bound, and vector
// loads and stores are what it needs (the file is built with -fno-math-errno so that sqrt
// vectorises, as PyTorch's own kernels are).
#if defined(__x86_64__)
#define NXT_AVX2_AND_BASELINE __attribute__((target_clones("avx2", "default")))
#else
#define NXT_AVX2_AND_BASELINE  // other ISAs: the compiler's own target
#endif
NXT_AVX2_AND_BASELINE void adam_elements(float* __restrict p, const float* __restrict g,
                                         float* __restrict m, float* __restrict v, int64_t begin,
                                         int64_t end, const AdamScalars s) {
  for (int64_t i = begin; i < end; ++i) {
    const float gi = g[i] + s.grad_decay * p[i];
    const float mi = m[i] * s.beta1 + (1 - s.beta1) * gi;
    const float vi = v[i] * s.beta2 + (1 - s.beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const float denominator = std::sqrt(vi) * s.inverse_bias_correction2_sqrt + s.eps;
    p[i] = p[i] * s.param_scale + s.negative_step_size * mi / denominator;  // addcdiv's order
  }
}

template <class Options>
bool adam_update_in_one_pass(const torch::Tensor& param, const torch::Tensor& grad,
                             const torch::Tensor& exp_avg, const torch::Tensor& exp_avg_sq,
                             int64_t step, const Options& options, bool decoupled_decay) {
  if (!same_dense_float_layout(param, {grad, exp_avg, exp_avg_sq})) return false;
  const float beta1 = static_cast<float>(std::get<0>(options.betas()));
  const float beta2 = static_cast<float>(std::get<1>(options.betas()));
  const double lr = options.lr();
  const float decay = static_cast<float>(options.weight_decay());
  const float param_scale = decoupled_decay ? static_cast<float>(1 - lr * decay) : 1.0f;
  const float grad_decay = decoupled_decay ? 0.0f : decay;
  // As ATen rounds them: a division by a scalar is a multiplication by its float reciprocal.
  const float inverse_bias_correction2_sqrt =
      static_cast<float>(1 / std::sqrt(1 - std::pow(std::get<1>(options.betas()), step)));
  const float negative_step_size =
      static_cast<float>(-lr / (1 - std::pow(std::get<0>(options.betas()), step)));
  const float eps = static_cast<float>(options.eps());
  // Dense tensors with equal strides: element i of the storage span is the same element in all.
  float* p = param.data_ptr<float>();
  const float* g = grad.data_ptr<float>();
  float* m = exp_avg.data_ptr<float>();
  float* v = exp_avg_sq.data_ptr<float>();
  at::parallel_for(0, param.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
    adam_elements(p, g, m, v, begin, end,
                  {beta1, beta2, param_scale, grad_decay, inverse_bias_correction2_sqrt,
                   negative_step_size, eps});
  });
  return true;
}

// One group of Adam or AdamW: the state of each parameter with a gradient (created at its first
// step), then the update in batches of a step count.
template <class Options, class State, class StateMap>
void adam_group_step(torch::optim::OptimizerParamGroup& group, StateMap& state,
                     bool decoupled_decay) {
  const auto& options = static_cast<const Options&>(group.options());
  TORCH_CHECK(!options.amsgrad(), "nxt's foreach Adam/AdamW: amsgrad is not supported");
  struct SameStep {
    WithGradients current;
    Tensors exp_avg, exp_avg_sq;
  };
  std::map<int64_t, SameStep> by_step;  // one entry unless parameters joined training late
  for (const auto& p : group.params()) {
    if (!p.grad().defined()) continue;
    State& s = state_of<State>(state, p, [&p] {
      auto fresh = std::make_unique<State>();
      fresh->step(0);
      fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
      fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
      return fresh;
    });
    s.step(s.step() + 1);
    SameStep& same = by_step[s.step()];
    same.current.add(p);
    same.exp_avg.push_back(s.exp_avg());
    same.exp_avg_sq.push_back(s.exp_avg_sq());
  }
  for (const auto& entry : by_step) {
    const int64_t step = entry.first;
    const SameStep& same = entry.second;
    in_batches(same.current.params, [&](size_t first, size_t count) {
      if (count == 1 &&
          adam_update_in_one_pass(same.current.params[first], same.current.grads[first],
                                  same.exp_avg[first], same.exp_avg_sq[first], step, options,
                                  decoupled_decay))
        return;  // Note [Adam in one pass on the CPU]
      adam_update(part(same.current.params, first, count), part(same.current.grads, first, count),
                  part(same.exp_avg, first, count), part(same.exp_avg_sq, first, count), step,
                  options, decoupled_decay);
    });
  }
}

// torch::optim::SGD::step's momentum and parameter update of one batch, moving along
// `directions` (the gradients with decay added; for LARS, scaled too).
template <class StateMap>
void sgd_momentum_update(at::TensorList params, Tensors directions,
                         const torch::optim::SGDOptions& options, StateMap& state) {
  const double momentum = options.momentum();
  if (momentum != 0) {
    Tensors buffers, continued_buffers, continued_directions;
    for (size_t i = 0; i < params.size(); ++i) {
      bool fresh = false;
      auto& s = state_of<torch::optim::SGDParamState>(state, params[i], [&] {
        fresh = true;
        auto made = std::make_unique<torch::optim::SGDParamState>();
        made->momentum_buffer(torch::clone(directions[i]).detach());
        return made;
      });
      buffers.push_back(s.momentum_buffer());
      if (!fresh) {
        continued_buffers.push_back(s.momentum_buffer());
        continued_directions.push_back(directions[i]);
      }
    }
    if (!continued_buffers.empty()) {
      at::_foreach_mul_(continued_buffers, momentum);
      at::_foreach_add_(continued_buffers, continued_directions, 1 - options.dampening());
    }
    if (options.nesterov())
      directions = at::_foreach_add(directions, buffers, momentum);
    else
      directions = buffers;
  }
  at::_foreach_add_(params, directions, -options.lr());
}

// The gradients plus `decay` x the parameters (the gradients themselves at no decay).
Tensors decayed_gradients(at::TensorList params, at::TensorList grads, double decay) {
  if (decay == 0) return grads.vec();
  return at::_foreach_add(grads, params, decay);
}

// SGD's update of `current` in batches.
template <class StateMap>
void sgd_step(const WithGradients& current, const torch::optim::SGDOptions& options,
              StateMap& state) {
  in_batches(current.params, [&](size_t first, size_t count) {
    const at::TensorList params = part(current.params, first, count);
    sgd_momentum_update(
        params,
        decayed_gradients(params, part(current.grads, first, count), options.weight_decay()),
        options, state);
  });
}

}  // namespace

WholeGroupBatchesOnCpu::WholeGroupBatchesOnCpu() : before_(whole_group_batches_on_cpu) {
  whole_group_batches_on_cpu = true;
}

WholeGroupBatchesOnCpu::~WholeGroupBatchesOnCpu() {
  whole_group_batches_on_cpu = before_;
}

bool is_bn_or_bias(const torch::Tensor& parameter) {
  return parameter.dim() <= 1;
}

torch::Tensor ForeachAdam::step(LossClosure closure) {
  return step_with(closure, [this] {
    for (auto& group : param_groups_)
      adam_group_step<torch::optim::AdamOptions, torch::optim::AdamParamState>(group, state_,
                                                                               false);
  });
}

torch::Tensor ForeachAdamW::step(LossClosure closure) {
  return step_with(closure, [this] {
    for (auto& group : param_groups_)
      adam_group_step<torch::optim::AdamWOptions, torch::optim::AdamWParamState>(group, state_,
                                                                                 true);
  });
}

torch::Tensor ForeachSgd::step(LossClosure closure) {
  return step_with(closure, [this] {
    for (auto& group : param_groups_) {
      const auto& options = static_cast<const torch::optim::SGDOptions&>(group.options());
      sgd_step(with_gradients(group), options, state_);
    }
  });
}

Lars::Lars(const std::vector<torch::optim::OptimizerParamGroup>& groups,
           const torch::optim::SGDOptions& defaults, double trust_coefficient)
    : torch::optim::SGD(groups, defaults), trust_coefficient_(trust_coefficient) {}

torch::Tensor Lars::step(LossClosure closure) {
  return step_with(closure, [this] {
    for (auto& group : param_groups_) {
      const auto& options = static_cast<const torch::optim::SGDOptions&>(group.options());
      const double decay = options.weight_decay();
      WithGradients adapted, plain;
      for (const auto& p : group.params())
        if (p.grad().defined()) (is_bn_or_bias(p) ? plain : adapted).add(p);
      sgd_step(plain, options, state_);
      in_batches(adapted.params, [&](size_t first, size_t count) {
        const at::TensorList params = part(adapted.params, first, count);
        const at::TensorList grads = part(adapted.grads, first, count);
        const torch::Tensor weight_norms = torch::stack(at::_foreach_norm(params));
        const torch::Tensor grad_norms = torch::stack(at::_foreach_norm(grads));
        const torch::Tensor trust =
            torch::where(weight_norms.gt(0).logical_and(grad_norms.gt(0)),
                         trust_coefficient_ * weight_norms / (grad_norms + decay * weight_norms),
                         torch::ones_like(weight_norms));
        // A copy even at no decay: scaled in place below, the gradients must stay as they are.
        Tensors directions = at::_foreach_add(grads, params, decay);
        // One small multiply per tensor: _foreach_mul_ with a list of tensors needs equal shapes
        // in 1.13, and a list of scalars would wait for the device.
        for (size_t i = 0; i < directions.size(); ++i)
          directions[i].mul_(trust[static_cast<int64_t>(i)]);
        sgd_momentum_update(params, std::move(directions), options, state_);
      });
    }
  });
}

}  // namespace nxt
