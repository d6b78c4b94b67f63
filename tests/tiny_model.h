// The tiny ResNeXt the tests train: two stages, cardinality 4, CIFAR stem, for 32px inputs.
#pragma once
#include "model/resnext_spec.h"

namespace nxt::testing_support {

inline ResNeXtSpec tiny_spec(int64_t num_classes = 3) {
  ResNeXtSpec spec;
  spec.blocks = {1, 2};
  spec.cardinality = 4;
  spec.width_per_group = 8;
  spec.stem_width = 16;
  spec.stem = StemKind::kCifar;
  spec.num_classes = num_classes;
  return spec;
}

}  // namespace nxt::testing_support
