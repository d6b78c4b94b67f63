// Classifies image files with a trained model: files are decoded and prepared on worker threads
// exactly as training's evaluation saw them (pack_hdf5's decode and resize, the evaluation
// resize and crop, the checkpoint's mean/std), batched, run through the model, and reported in
// input order with their top-k classes. A file that cannot be read or decoded is reported with
// its error and the others go on.
//
// Note [Prediction on version 2 data]: for a model trained on a pack_hdf5 --max-side file, a
// file is decoded and fitted to max_side (load_image_fit: what the packer stored), then
// resized and centre-cropped as the loader's evaluation does (resize_shorter_and_center_crop).
// With --store jpeg or mixed the packer also re-encoded the fitted image as JPEG (quality 90 by
// default); prediction does not repeat that lossy step, so its pixels differ from nxt_eval's by
// that JPEG error (tests/e2e/v2_predict_vs_torchvision.sh measures the effect on the logits).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "infer/inference_model.h"

namespace nxt {

// The uint8 HWC image the model sees for `path` (before normalisation), as in training's
// evaluation. Version 1 data (Preprocess::layout() kFixedSquares): pack_hdf5's decode and resize
// to the stored size, then the centre window of eval_crop_ratio resized to input_size. Version 2
// data (kAspectKept): the decode fitted to max_side, then torchvision's Resize(eval_resize) +
// CenterCrop(input_size).
torch::Tensor prepared_image(const std::string& path, const Preprocess& preprocess);

struct Prediction {
  std::string path;
  std::string error;               // non-empty: this file could not be classified
  std::vector<int64_t> classes;    // top-k class indices, most probable first
  std::vector<float> probability;  // softmax probability of each
};

struct PredictOptions {
  int64_t batch_size = 32;
  int threads = 1;   // decoding threads
  int64_t topk = 5;  // 1 .. the class count
};

// Calls `emit` once per file, in the order of `files`.
void predict_files(const InferenceModel& model, const std::vector<std::string>& files,
                   const PredictOptions& options,
                   const std::function<void(const Prediction&)>& emit);

}  // namespace nxt
