// Builds the configured ResNeXt, optionally initialised from a torchvision-style state dict.
#pragma once
#include "common/config.h"
#include "model/resnext.h"

namespace nxt {

// num_classes is the resolved class count (config value, or the dataset's when auto).
ResNeXt build_model(const ModelConfig& config, int64_t num_classes);

// Channels-last memory for the convolution weights (the 4-D parameters), matching channels-last
// activations; other parameters keep their layout.
void use_channels_last(torch::nn::Module& model);

}  // namespace nxt
