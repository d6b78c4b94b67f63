// Classifies image files with a trained model: files are decoded and prepared on worker threads
// exactly as training saw them (pack_hdf5's decode and resize, the evaluation resize, the
// checkpoint's mean/std), batched, run through the model, and reported in input order with
// their top-k classes. A file that cannot be read or decoded is reported with its error and the
// others go on.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "infer/inference_model.h"

namespace nxt {

// The uint8 HWC image the model sees for `path` (before normalisation), as in training:
// pack_hdf5's decode and resize to the stored size, then the evaluation centre crop and resize.
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
