// Dynamic loss scaling for fp16 autocast (train.amp: fp16), as PyTorch's torch.amp.GradScaler
// does it: the loss is multiplied by a scale before backward so that small fp16 gradients do
// not flush to zero; the gradients are divided by it again before clipping and the update, and
// a step whose gradients hold an inf or NaN is skipped and halves the scale. After
// growth_interval steps in a row without one, the scale doubles.
#pragma once
#include <cstdint>
#include <vector>

#include "common/torch_pch.h"

namespace nxt {

// GradScaler's constructor defaults.
struct LossScalerOptions {
  double init_scale = 65536.0;  // 2**16
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
};

// What a checkpoint keeps so that a resumed run continues with the same scale.
struct LossScalerState {
  double scale = 0;            // a float32 value, as GradScaler's _scale tensor
  int64_t growth_tracker = 0;  // steps in a row without inf/NaN since the last change
};

class LossScaler {
 public:
  // A disabled scaler (bf16, fp32, CPU) scales by nothing and never skips.
  LossScaler() = default;
  explicit LossScaler(const LossScalerOptions& options);

  bool enabled() const { return enabled_; }
  // `loss` times the scale (the loss itself when disabled): what backward() runs on.
  torch::Tensor scale_loss(const torch::Tensor& loss) const;
  // Divides every defined gradient of `parameters` by the scale, in place (times the float
  // reciprocal, as GradScaler.unscale_), and returns a 0-dim float tensor on the gradients'
  // device: 1 when any of them holds an inf or NaN, else 0. Reads nothing off the device.
  // Undefined when disabled or when no parameter has a gradient.
  torch::Tensor unscale_and_check(const std::vector<torch::Tensor>& parameters) const;
  // Ends a step: `found_inf` is whether any rank found an inf or NaN this step (the caller
  // all-reduces it, so every rank calls this with the same value and skips the same step).
  // Backs off (scale * backoff_factor, tracker 0) on one; else counts the step and grows the
  // scale by growth_factor (if the result is finite) once the tracker reaches growth_interval.
  // Returns whether the optimizer step must be skipped (= found_inf).
  bool update(bool found_inf);

  double scale() const { return scale_; }
  LossScalerState state() const { return {scale_, growth_tracker_}; }
  // Continues from a checkpoint's state (scale > 0).
  void restore(const LossScalerState& state);

 private:
  bool enabled_ = false;
  LossScalerOptions options_;
  float scale_ = 1.0f;  // float32 arithmetic, as GradScaler's _amp_update_scale_
  int64_t growth_tracker_ = 0;
};

}  // namespace nxt
