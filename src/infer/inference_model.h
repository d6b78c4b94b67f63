// A trained model ready to apply: a training checkpoint (best.pt, last.pt) rebuilt from the
// config it embeds, with its weights, class names and preprocessing, in eval mode on a device.
#pragma once
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "common/config.h"
#include "common/torch_pch.h"
#include "model/resnext.h"

namespace nxt {

struct InferenceModel {
  ResNeXt model{nullptr};
  Config config;  // the training run's resolved config
  std::vector<std::string> classes;
  Preprocess preprocess;
  torch::Device device{torch::kCPU};
  bool channels_last = false;
  bool bf16_autocast = false;    // CUDA only, as the run trained
  EvalTta tta = EvalTta::kNone;  // the run's eval.tta; nxt_eval/nxt_predict's --tta replaces it

  // Logits (float) for a normalised float NCHW batch on `device`, with `tta` applied.
  torch::Tensor logits(const torch::Tensor& images) const;
};

// Errors name `path` and say what is wrong: missing, not an nxt checkpoint, or written by an
// nxt too old to record its preprocessing.
InferenceModel load_inference_model(const std::string& path, torch::Device device);

// The shorter side to which evaluation resizes format version 2 images (their own aspect ratio)
// before the centre crop to input_size: the checkpoint's eval_resize, or, for a checkpoint
// trained on version 1 data (which records none), data/resolution.h eval_resize_shorter of the
// run's config: what training would have used on version 2 data.
int64_t eval_resize_for_aspect_kept(const InferenceModel& model);

}  // namespace nxt
