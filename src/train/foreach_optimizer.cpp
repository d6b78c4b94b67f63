// Implements the multi-tensor optimizers: LibTorch's Adam, AdamW and SGD updates and LARS, each
// batched over a parameter group with at::_foreach_* (Note [Foreach optimizers]).
#include "train/foreach_optimizer.h"

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
