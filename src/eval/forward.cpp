// Implements the evaluation forward pass.
#include "eval/forward.h"

#include "common/compat.h"

namespace nxt {

torch::Tensor model_input(const torch::Tensor& images, const Normalizer& normalize,
                          bool channels_last) {
  const torch::Tensor input = normalize(images);  // NCHW sizes, channels-last memory
  return channels_last ? input.contiguous(torch::MemoryFormat::ChannelsLast) : input.contiguous();
}

torch::Tensor eval_logits(ResNeXt& model, const torch::Tensor& input, bool bf16_autocast) {
  const compat::CudaAutocastGuard autocast(bf16_autocast, torch::kBFloat16);
  return model->forward(input).to(torch::kFloat);
}

bool bf16_autocast(const Config& config, torch::Device device) {
  return device.is_cuda() && config.train.amp == AmpMode::kBf16;
}

DeviceBatch to_device(const Batch& batch, const Normalizer& normalize, bool channels_last) {
  return {model_input(batch.images, normalize, channels_last),
          batch.labels.to(normalize.device(), /*non_blocking=*/batch.labels.is_pinned())};
}

}  // namespace nxt
