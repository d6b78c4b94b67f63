// Builds the configured ResNeXt, optionally initialised from a torchvision-style state dict.
#pragma once
#include <optional>
#include "common/config.h"

#include "model/resnext.h"
#include "model/state_dict_io.h"

namespace nxt {

// num_classes is the resolved class count (config value, or the dataset's when auto). Loads
// config.pretrained when set.
ResNeXt build_model(const ModelConfig& config, int64_t num_classes);

// The same with the pretrained weights already read (config.pretrained names them in messages):
// the trainer reads the file on rank 0 and gives every rank its bytes.
ResNeXt build_model(const ModelConfig& config, int64_t num_classes,
                    const std::optional<StateDict>& pretrained);

// Channels-last memory for the convolution weights (the 4-D parameters), matching channels-last
// activations; other parameters keep their layout.
void use_channels_last(torch::nn::Module& model);

}  // namespace nxt
