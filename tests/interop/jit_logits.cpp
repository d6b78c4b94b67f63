// nxt_jit_logits: the C++ half of the export test (tests/e2e/export_model.sh). For each image
// file it prints, as one JSON line, the logits of nxt's own prediction path and those of a
// TorchScript module written by data_tools/export_model.py, loaded with torch::jit::load and
// fed the same prepared image as float RGB NCHW in [0, 1] (the module normalises by itself).
// Without --module it prints nxt's logits alone ("jit": null). --inputs-out FILE also writes
// those prepared images and nxt's logits as a state dict {pixels, nxt_logits}, so that another
// runtime (onnxruntime, timm, torchvision) is fed exactly what nxt was fed.
//
// nxt's side is nxt_predict's code: load_inference_model, pack_hdf5's decode and resize
// (load_image), the evaluation resize and centre crop (prepare_for_eval), the Normalizer via
// model_input, InferenceModel::logits. The first two steps are composed here as predictor.cpp
// composes them (its prepared_image is internal), so the program also runs predict_files itself
// on the same files and fails unless its softmax probabilities equal softmax(nxt logits): if
// nxt_predict's preparation ever changes and this program's does not, the test says so.
#include <torch/script.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "common/check.h"
#include "data/normalize.h"
#include "eval/forward.h"
#include "infer/inference_model.h"
#include "infer/predictor.h"
#include "model/state_dict_io.h"

namespace {

// Probabilities predict_files may differ by from softmax(logits) computed here (same model, same
// batch, same ops: in practice 0).
constexpr double kPredictPathTolerance = 1e-6;

// uint8 [N, H, W, 3]: each file decoded, resized to the stored size and prepared for evaluation
// exactly as predictor.cpp's prepared_image does.
torch::Tensor prepared_images(const std::vector<std::string>& files, const nxt::Preprocess& p) {
  std::vector<torch::Tensor> images;
  for (const std::string& file : files) images.push_back(nxt::prepared_image(file, p));
  return torch::stack(images);
}

// [N, classes] of nxt_predict's softmax probabilities, un-sorted from its top-k lists.
torch::Tensor predict_path_probabilities(const nxt::InferenceModel& model,
                                         const std::vector<std::string>& files) {
  const auto classes = static_cast<int64_t>(model.classes.size());
  torch::Tensor probabilities = torch::full({static_cast<int64_t>(files.size()), classes}, -1.0);
  nxt::PredictOptions options;
  options.batch_size = static_cast<int64_t>(files.size());
  options.topk = classes;
  int64_t row = 0;
  nxt::predict_files(model, files, options, [&](const nxt::Prediction& prediction) {
    NXT_CHECK(prediction.error.empty(), "nxt_predict's path failed on '", prediction.path,
              "': ", prediction.error);
    for (int64_t j = 0; j < classes; ++j)
      probabilities[row][prediction.classes[j]] = prediction.probability[j];
    ++row;
  });
  return probabilities;
}

// jit_row undefined: "jit": null.
void print_json_row(const std::string& path, const torch::Tensor& nxt_row,
                    const torch::Tensor& jit_row) {
  const auto list = [](const torch::Tensor& row) {
    std::string text;
    char number[32];
    for (int64_t j = 0; j < row.size(0); ++j) {
      std::snprintf(number, sizeof number, "%s%.9g", j ? ", " : "", row[j].item<float>());
      text += number;
    }
    return "[" + text + "]";
  };
  // Paths come from the test's own scratch folder: plain names, nothing to escape.
  std::cout << "{\"path\": \"" << path << "\", \"nxt\": " << list(nxt_row)
            << ", \"jit\": " << (jit_row.defined() ? list(jit_row) : "null") << "}\n";
}

// The logits of the TorchScript module at `module_path` for `pixels`, checked against nxt's shape.
torch::Tensor module_logits(const std::string& module_path, const torch::Tensor& pixels,
                            const torch::Tensor& nxt_logits) {
  torch::jit::script::Module module;
  try {
    module = torch::jit::load(module_path);
  } catch (const c10::Error& e) {
    throw nxt::Error("cannot load TorchScript module '" + module_path +
                     "': " + e.what_without_backtrace());
  }
  module.eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor logits = module.forward({pixels}).toTensor().contiguous();
  NXT_CHECK(logits.sizes() == nxt_logits.sizes(), "module '", module_path, "' gives logits ",
            logits.sizes(), ", nxt ", nxt_logits.sizes());
  return logits;
}

int run(const std::string& checkpoint, const std::string& module_path,
        const std::string& inputs_out, const std::vector<std::string>& files) {
  const nxt::InferenceModel model = nxt::load_inference_model(checkpoint, torch::kCPU);
  const torch::Tensor images = prepared_images(files, model.preprocess);
  const nxt::Normalizer normalize(model.preprocess.mean, model.preprocess.stddev, model.device);
  const torch::Tensor nxt_logits =
      model.logits(nxt::model_input(images, normalize, model.channels_last)).contiguous();

  const torch::Tensor pixels = images.permute({0, 3, 1, 2}).to(torch::kFloat).div(255).contiguous();
  if (!inputs_out.empty())
    nxt::save_state_dict({{"pixels", pixels}, {"nxt_logits", nxt_logits}}, inputs_out);
  const torch::Tensor jit_logits =
      module_path.empty() ? torch::Tensor() : module_logits(module_path, pixels, nxt_logits);

  // This program's nxt logits are nxt_predict's: same probabilities as predict_files gives.
  const double predict_gap =
      (torch::softmax(nxt_logits, 1) - predict_path_probabilities(model, files))
          .abs()
          .max()
          .item<double>();
  std::cerr << "nxt_jit_logits: max |softmax(nxt logits) - predict_files probability| = "
            << predict_gap << "\n";
  NXT_CHECK(predict_gap <= kPredictPathTolerance,
            "this program's preparation no longer matches nxt_predict's (probabilities differ by ",
            predict_gap, "): update prepared_images() from src/infer/predictor.cpp");

  for (size_t i = 0; i < files.size(); ++i) {
    const auto row = static_cast<int64_t>(i);
    print_json_row(files[i], nxt_logits[row],
                   jit_logits.defined() ? jit_logits[row] : torch::Tensor());
  }
  if (jit_logits.defined())
    std::cerr << "nxt_jit_logits: " << files.size() << " image(s), max |jit - nxt| logit = "
              << (jit_logits - nxt_logits).abs().max().item<double>() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return nxt::run_guarded([&] {
    std::string checkpoint, module_path, inputs_out;
    std::vector<std::string> files;
    CLI::App app{"nxt_jit_logits: nxt's logits and an exported TorchScript module's, per image"};
    app.add_option("--checkpoint", checkpoint, "the nxt checkpoint that was exported")->required();
    app.add_option("--module", module_path, "the TorchScript file export_model.py wrote");
    app.add_option("--inputs-out", inputs_out,
                   "write the prepared pixels and nxt's logits here (a state dict)");
    app.add_option("files", files, "image files")->required();
    CLI11_PARSE(app, argc, argv);
    return run(checkpoint, module_path, inputs_out, files);
  });
}
