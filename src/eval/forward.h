// The forward pass of evaluation and inference: a loader batch onto the model's device
// (normalised there), and the model's float logits under the run's autocast. The trainer,
// the evaluation loop and nxt_predict all go through these, so they see the same input.
#pragma once
#include "common/config.h"
#include "common/torch_pch.h"
#include "data/loader.h"
#include "data/normalize.h"
#include "model/resnext.h"

namespace nxt {

// The model's input and labels for one batch, on the model's device.
struct DeviceBatch {
  torch::Tensor images;  // float, normalised
  torch::Tensor labels;  // int64
};
// On CUDA a pinned batch is copied on a side stream (Note [batch copies on a side stream] in
// forward.cpp); the result is ready for the current stream. A training batch's erase
// rectangles (data.random_erase) are zeroed in the normalised images.
DeviceBatch to_device(const Batch& batch, const Normalizer& normalize, bool channels_last);

// uint8 NHWC images (any device) -> the model's normalised float input on its device.
torch::Tensor model_input(const torch::Tensor& images, const Normalizer& normalize,
                          bool channels_last);

// The model's float logits for a prepared NCHW input, under bf16 autocast when asked (CUDA);
// with EvalTta::kFlip the mean of the logits of the input and of its horizontal mirror (Note
// [flip TTA] in forward.cpp). The caller holds the NoGradGuard. Evaluation and inference share it.
torch::Tensor eval_logits(ResNeXt& model, const torch::Tensor& input, bool bf16_autocast,
                          EvalTta tta);

// Whether a model runs under bf16 autocast: train.amp bf16 on a CUDA device (CPU always runs
// fp32). Training, evaluation and inference all ask here, so they compute alike.
bool bf16_autocast(const Config& config, torch::Device device);

}  // namespace nxt
