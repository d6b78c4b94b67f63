// Implements the named ResNeXt variants and the config-to-spec mapping.
#include "model/resnext_spec.h"

#include <string>

#include "common/check.h"

namespace nxt {
namespace {

struct NamedArch {
  ModelArch arch;
  std::vector<int64_t> blocks;
  int64_t cardinality;
  int64_t width_per_group;
};

const std::vector<NamedArch>& named_archs() {
  static const std::vector<NamedArch> archs = {
      {ModelArch::kResNeXt50_32x4d, {3, 4, 6, 3}, 32, 4},
      {ModelArch::kResNeXt101_32x8d, {3, 4, 23, 3}, 32, 8},
      {ModelArch::kResNeXt101_64x4d, {3, 4, 23, 3}, 64, 4},
  };
  return archs;
}

void validate(const ResNeXtSpec& spec) {
  NXT_CHECK(!spec.blocks.empty(), "a ResNeXt needs at least one stage");
  NXT_CHECK(spec.num_classes >= 1, "num_classes must be positive, got ", spec.num_classes);
  NXT_CHECK(spec.bottleneck_width(0) >= spec.cardinality,
            "stem_width * width_per_group / 64 must be at least 1 (got ", spec.stem_width, " * ",
            spec.width_per_group, " / 64)");
}

}  // namespace

ResNeXtSpec named_resnext_spec(ModelArch arch, int64_t num_classes) {
  for (const NamedArch& named : named_archs()) {
    if (arch != named.arch) continue;
    ResNeXtSpec spec;
    spec.blocks = named.blocks;
    spec.cardinality = named.cardinality;
    spec.width_per_group = named.width_per_group;
    spec.num_classes = num_classes;
    validate(spec);
    return spec;
  }
  throw Error(std::string("ResNeXt '") + name_of(arch, kArchNames) + "' is not a named variant");
}

ResNeXtSpec resnext_spec_from_config(const ModelConfig& model, int64_t num_classes) {
  if (model.arch != ModelArch::kCustom) {
    ResNeXtSpec spec = named_resnext_spec(model.arch, num_classes);
    spec.zero_init_residual = model.zero_init_residual;
    return spec;
  }
  ResNeXtSpec spec;
  spec.blocks = model.blocks;
  spec.cardinality = model.cardinality;
  spec.width_per_group = model.width_per_group;
  spec.stem_width = model.stem_width;
  spec.stem = model.stem;
  spec.num_classes = num_classes;
  spec.zero_init_residual = model.zero_init_residual;
  validate(spec);
  return spec;
}

}  // namespace nxt
