// Implements model construction and fine-tuning initialisation from a pretrained state dict.
#include "model/build.h"

#include "common/log.h"
#include "model/state_dict_io.h"

namespace nxt {

ResNeXt build_model(const ModelConfig& config, int64_t num_classes) {
  std::optional<StateDict> pretrained;
  if (!config.pretrained.empty()) pretrained = load_state_dict(config.pretrained);
  return build_model(config, num_classes, pretrained);
}

ResNeXt build_model(const ModelConfig& config, int64_t num_classes,
                    const std::optional<StateDict>& pretrained) {
  ResNeXt model(resnext_spec_from_config(config, num_classes));
  if (!pretrained) return model;
  const StateLoadReport report = copy_state_into(*model, *pretrained, config.pretrained);
  if (report.classifier_reinitialised || config.reset_classifier) {
    model->reset_classifier();
    log::info() << "pretrained '" << config.pretrained
                << "': backbone loaded, fc re-initialised for " << num_classes << " classes ("
                << (report.classifier_reinitialised ? report.classifier_detail
                                                    : "model.reset_classifier")
                << ")";
  } else {
    log::info() << "pretrained '" << config.pretrained << "': all weights loaded";
  }
  return model;
}

void use_channels_last(torch::nn::Module& model) {
  for (auto& p : model.parameters())
    if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
}

}  // namespace nxt
