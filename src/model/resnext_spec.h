// The shape of a ResNeXt: blocks per stage, cardinality, width per group, stem. Named variants
// match torchvision; custom specs give the tiny models used in tests.
#pragma once
#include <cstdint>
#include <vector>

#include "common/config.h"

namespace nxt {

struct ResNeXtSpec {
  std::vector<int64_t> blocks;  // bottleneck blocks per stage
  int64_t cardinality = 32;     // groups of each block's 3x3 conv
  int64_t width_per_group = 4;  // channels per group at stem_width planes
  int64_t stem_width = 64;      // stem output channels; stage s has stem_width * 2^s planes
  StemKind stem = StemKind::kImageNet;
  int64_t num_classes = 1000;
  bool zero_init_residual = false;

  static constexpr int64_t kExpansion = 4;  // a block's output is 4x its planes
  int64_t planes(size_t stage) const { return stem_width << stage; }
  // Channels of a block's grouped 3x3 conv, as torchvision computes them.
  int64_t bottleneck_width(size_t stage) const {
    return planes(stage) * width_per_group / 64 * cardinality;
  }
  int64_t feature_channels() const { return planes(blocks.size() - 1) * kExpansion; }
};

// A named variant's spec (torchvision's shapes); throws nxt::Error for ModelArch::kCustom, whose
// shape only a config gives.
ResNeXtSpec named_resnext_spec(ModelArch arch, int64_t num_classes);

// The spec a model config describes, with the class count resolved by the caller.
ResNeXtSpec resnext_spec_from_config(const ModelConfig& model, int64_t num_classes);

}  // namespace nxt
