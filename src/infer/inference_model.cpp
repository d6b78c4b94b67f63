// Implements loading a checkpoint for inference.
#include "infer/inference_model.h"

#include <filesystem>

#include "common/check.h"
#include "data/resolution.h"
#include "eval/forward.h"
#include "model/build.h"
#include "model/state_dict_io.h"

namespace nxt {

torch::Tensor InferenceModel::logits(const torch::Tensor& images) const {
  torch::NoGradGuard no_grad;
  ResNeXt net = model;  // a handle: forward() is not const, the weights do not change
  return eval_logits(net, images, bf16_autocast, tta);
}

InferenceModel load_inference_model(const std::string& path, torch::Device device) {
  NXT_CHECK(std::filesystem::is_regular_file(path), "checkpoint '", path,
            "' does not exist or is not a file");
  Checkpoint checkpoint = load_checkpoint(path);
  NXT_CHECK(checkpoint.preprocess.has_value(), "checkpoint '", path,
            "' records no preprocessing (written by an older nxt); re-evaluate it with "
            "nxt_ddp --evaluate, or train again to use it with nxt_predict/nxt_eval");
  InferenceModel m;
  m.config = parse_config(checkpoint.config_yaml, path + " (its embedded config)");
  m.config.model.pretrained.clear();  // the checkpoint's weights replace any starting point
  m.classes = std::move(checkpoint.classes);
  m.preprocess = *checkpoint.preprocess;
  m.device = device;
  m.channels_last = m.config.train.channels_last;
  m.bf16_autocast = bf16_autocast(m.config, device);
  m.tta = m.config.eval.tta;
  m.model = build_model(m.config.model, static_cast<int64_t>(m.classes.size()));
  copy_state_into(*m.model, checkpoint.model, path);
  m.model->to(device);
  if (m.channels_last) use_channels_last(*m.model);
  m.model->eval();
  return m;
}

int64_t eval_resize_for_aspect_kept(const InferenceModel& model) {
  if (model.preprocess.layout() == StoredLayout::kAspectKept) return model.preprocess.eval_resize;
  return eval_resize_shorter(model.config.data);
}

}  // namespace nxt
