// Evaluation over the val split, in either mode, with identical numbers:
//  - rank0: rank 0 evaluates every sample while the other ranks wait;
//  - sharded: each rank evaluates its share and the exact totals are summed.
// rank 0 walks the very batches the sharded ranks would (shard by shard), and losses are summed
// in fixed point, so both modes give bit-identical accuracy and loss.
#pragma once
#include <string>
#include <vector>

#include "common/torch_pch.h"
#include "data/loader.h"
#include "data/normalize.h"
#include "dist/communicator.h"
#include "model/resnext.h"
#include "train/confusion.h"
#include "train/metrics.h"

namespace nxt {

// The model's input and labels for one batch, on the model's device.
struct DeviceBatch {
  torch::Tensor images;  // float, normalised
  torch::Tensor labels;  // int64
};
DeviceBatch to_device(const Batch& batch, const Normalizer& normalize, bool channels_last);

// uint8 NHWC images (any device) -> the model's normalised float input on its device.
torch::Tensor model_input(const torch::Tensor& images, const Normalizer& normalize,
                          bool channels_last);

struct EvalSetup {
  const ImageReader* reader = nullptr;
  LoaderOptions loader;  // batch size, output size, threads; training and shard are set here
  const Normalizer* normalize = nullptr;
  bool channels_last = false;
  bool bf16_autocast = false;
};

// The model's float logits for a prepared input, under bf16 autocast when asked (CUDA); the
// caller holds the NoGradGuard. Evaluation and inference (infer/) share it.
torch::Tensor eval_logits(ResNeXt& model, const torch::Tensor& input, bool bf16_autocast);

// What nxt_eval reports beyond the totals, gathered from all ranks.
struct EvalDetails {
  ConfusionMatrix confusion;       // construct with the class count
  std::vector<int64_t> predicted;  // per sample of the split, in file order
};

MetricTotals evaluate(ResNeXt& model, const EvalSetup& setup, Communicator& comm,
                      const std::string& mode, EvalDetails* details = nullptr);

}  // namespace nxt
