// Multi-tensor ("foreach") versions of LibTorch's Adam, AdamW and SGD, and LARS on top of SGD:
// each step updates all the parameters of a group with a few at::_foreach_* calls, where
// torch::optim runs a handful of tensor operations per parameter (ResNeXt-50 has 161 parameter
// tensors: about 1,000 kernel launches a step on a GPU). Note [Foreach optimizers].
#pragma once
#include <vector>

#include "common/torch_pch.h"

namespace nxt {

// Note [Foreach optimizers]
// The classes below subclass torch::optim::Adam, AdamW and SGD and replace only step(). They
// keep LibTorch's per-parameter state objects (AdamParamState, AdamWParamState, SGDParamState)
// under LibTorch's keys, and LibTorch's options, so save()/load() - the optimizer archive in a
// checkpoint - are LibTorch's own: a checkpoint written by torch::optim loads into them and the
// other way round. Their update is LibTorch's, operation by operation and in the same order
// (only batched over the tensors of a group), so it equals torch::optim's to rounding: on a CPU
// bit for bit, on a GPU to the last bits of the fused kernels (tests/unit/test_optim.cpp).
// Parameters without a gradient (a frozen backbone) are skipped and keep their state, as in
// torch::optim; Adam's parameters are batched by step count, which differs only for parameters
// that joined training late.

// Note [BatchNorm and bias parameters]
// One-dimensional parameters: BatchNorm's weights and biases, and every bias. They get no weight
// decay unless optim.decay_bn_and_bias (train/optim.cpp puts them in their own parameter groups),
// and LARS does not scale their update by a trust ratio (You et al. 2017, and the common
// practice since): their norms say nothing about the scale of a layer's weights.
bool is_bn_or_bias(const torch::Tensor& parameter);

// While alive (on this thread), CPU parameters are updated in whole-group batches as on a GPU
// (Note [Batches of a step] in foreach_optimizer.cpp): for the tests, to run the GPU's batching
// on a CPU, and for the benchmark. Not for training: it is slower on a CPU.
class WholeGroupBatchesOnCpu {
 public:
  WholeGroupBatchesOnCpu();
  ~WholeGroupBatchesOnCpu();
  WholeGroupBatchesOnCpu(const WholeGroupBatchesOnCpu&) = delete;
  WholeGroupBatchesOnCpu& operator=(const WholeGroupBatchesOnCpu&) = delete;

 private:
  bool before_;
};

// torch::optim::Adam's update (L2 weight decay added to the gradient; bias-corrected moments),
// batched. amsgrad is not supported (an error at the first step).
class ForeachAdam : public torch::optim::Adam {
 public:
  using torch::optim::Adam::Adam;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

// torch::optim::AdamW's update (decoupled weight decay: the parameter shrinks by lr x decay),
// batched. amsgrad is not supported.
class ForeachAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

// torch::optim::SGD's update (weight decay, momentum with dampening, Nesterov), batched.
class ForeachSgd : public torch::optim::SGD {
 public:
  using torch::optim::SGD::SGD;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

// LARS, layer-wise adaptive rate scaling (You, Gitman and Ginsburg 2017), as SGD with momentum:
// each parameter tensor w with gradient g (and weight decay wd of its group) moves along
//   d = trust x (g + wd x w),  trust = trust_coefficient x |w| / (|g| + wd x |w|)
// (trust = 1 when |w| or |g| is 0, and for BatchNorm and bias parameters, Note [BatchNorm and
// bias parameters]); then as torch::optim::SGD with d for the gradient and no further decay:
//   buf = momentum x buf + (1 - dampening) x d  (buf = d at the first step),  w -= lr x buf
// (Nesterov: w -= lr x (d + momentum x buf)). The state is SGD's momentum buffer, so the
// archive is SGD's.
class Lars : public torch::optim::SGD {
 public:
  Lars(const std::vector<torch::optim::OptimizerParamGroup>& groups,
       const torch::optim::SGDOptions& defaults, double trust_coefficient);
  torch::Tensor step(LossClosure closure = nullptr) override;

 private:
  double trust_coefficient_;
};

}  // namespace nxt
