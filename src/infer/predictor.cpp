// Implements batched prediction over files, and each file's preparation for either data layout.
#include "infer/predictor.h"

#include <algorithm>

#include "common/check.h"
#include "common/ordered_parallel.h"
#include "data/augment.h"
#include "data/image_prep.h"
#include "data/normalize.h"
#include "data/stored_sample.h"
#include "eval/forward.h"

namespace nxt {
namespace {

// One batch's files after decoding: the images that decoded and the errors of those that did not.
struct DecodedBatch {
  size_t first = 0;                 // index of the batch's first file
  std::vector<size_t> decoded;      // file indices, in order, one per image
  torch::Tensor images;             // uint8 [decoded.size(), H, W, 3]
  std::vector<std::string> errors;  // per file of the batch; "" where it decoded
};

DecodedBatch decode_batch(const std::vector<std::string>& files, size_t first, size_t count,
                          const Preprocess& preprocess) {
  DecodedBatch batch{first, {}, {}, std::vector<std::string>(count)};
  std::vector<torch::Tensor> images;
  for (size_t i = first; i < first + count; ++i) {
    try {
      images.push_back(prepared_image(files[i], preprocess));
      batch.decoded.push_back(i);
    } catch (const std::exception& e) {
      // The record carries the path already; keep the reason alone.
      const std::string reason = e.what(), prefix = "'" + files[i] + "': ";
      batch.errors[i - first] =
          reason.rfind(prefix, 0) == 0 ? reason.substr(prefix.size()) : reason;
    }
  }
  if (!images.empty()) batch.images = torch::stack(images);
  return batch;
}

void classify(const InferenceModel& model, const Normalizer& normalize, const DecodedBatch& batch,
              int64_t topk, std::vector<Prediction>& predictions) {
  if (batch.decoded.empty()) return;
  const torch::Tensor input =
      model_input(batch.images.to(model.device), normalize, model.channels_last);
  const auto [probability, index] = torch::softmax(model.logits(input), 1).topk(topk, 1);
  const torch::Tensor p = probability.cpu(), k = index.cpu();
  const auto p_rows = p.accessor<float, 2>();
  const auto k_rows = k.accessor<int64_t, 2>();
  for (size_t row = 0; row < batch.decoded.size(); ++row) {
    Prediction& out = predictions[batch.decoded[row] - batch.first];
    for (int64_t j = 0; j < topk; ++j) {
      out.classes.push_back(k_rows[static_cast<int64_t>(row)][j]);
      out.probability.push_back(p_rows[static_cast<int64_t>(row)][j]);
    }
  }
}

}  // namespace

torch::Tensor prepared_image(const std::string& path, const Preprocess& preprocess) {
  const ImageShape input{preprocess.input_size, preprocess.input_size};
  torch::Tensor out = torch::empty({input.height, input.width, 3}, torch::kUInt8);
  switch (preprocess.layout()) {
    case StoredLayout::kFixedSquares: {
      const ImageShape stored{preprocess.stored_height, preprocess.stored_width};
      cv::Mat rgb =
          load_image(path, static_cast<int>(stored.height), static_cast<int>(stored.width),
                     parse_resize_mode(preprocess.resize_mode));
      if (!rgb.isContinuous()) rgb = rgb.clone();
      prepare_for_eval(rgb.data, stored, out.data_ptr<uint8_t>(), input,
                       preprocess.eval_crop_ratio);
      break;
    }
    case StoredLayout::kAspectKept: {
      // The pixels pack_hdf5 --max-side stored (before any JPEG re-encoding, which is not
      // repeated: Note [Prediction on version 2 data] in infer/predictor.h), then what the
      // loader's evaluation does with a stored image.
      cv::Mat rgb = load_image_fit(path, static_cast<int>(preprocess.max_side));
      if (!rgb.isContinuous()) rgb = rgb.clone();
      const ImageShape stored{rgb.rows, rgb.cols};
      std::vector<uint8_t> scratch;
      resize_shorter_and_center_crop(rgb.data, stored, stored, preprocess.eval_resize,
                                     out.data_ptr<uint8_t>(), input, scratch);
      break;
    }
  }
  return out;
}

void predict_files(const InferenceModel& model, const std::vector<std::string>& files,
                   const PredictOptions& options,
                   const std::function<void(const Prediction&)>& emit) {
  NXT_CHECK(options.batch_size >= 1, "batch size must be >= 1, got ", options.batch_size);
  const int64_t topk = options.topk;
  NXT_CHECK(topk >= 1 && topk <= static_cast<int64_t>(model.classes.size()),
            "top-k must be in [1, ", model.classes.size(), "], got ", topk);
  const size_t batch_size = static_cast<size_t>(options.batch_size);
  const size_t batches = (files.size() + batch_size - 1) / batch_size;
  const Normalizer normalize(model.preprocess.mean, model.preprocess.stddev, model.device);
  OrderedPipeline<DecodedBatch> decoded(
      batches, static_cast<size_t>(std::max(1, options.threads)),
      static_cast<size_t>(std::max(2, 2 * options.threads)), [&](size_t b) {
        const size_t first = b * batch_size;
        return decode_batch(files, first, std::min(batch_size, files.size() - first),
                            model.preprocess);
      });
  while (auto batch = decoded.next()) {
    std::vector<Prediction> predictions(batch->errors.size());
    classify(model, normalize, *batch, topk, predictions);
    for (size_t i = 0; i < predictions.size(); ++i) {
      predictions[i].path = files[batch->first + i];
      predictions[i].error = batch->errors[i];
      emit(predictions[i]);
    }
  }
}

}  // namespace nxt
