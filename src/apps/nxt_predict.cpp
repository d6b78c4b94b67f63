// nxt_predict: classifies image files and folders with a trained checkpoint and prints the top-k
// classes of each (text, CSV or JSON lines). Exit code: 0 when every file was classified, 2 when
// some could not be (each has an error line), 1 on a fatal error (bad checkpoint, no images).
// Each file is prepared as the checkpoint records (infer/predictor.h prepared_image): for a model
// trained on format version 1 data, pack_hdf5 --size's resize and the centre-crop ratio; on
// version 2 data, the fit to max_side and Resize(eval_resize) + CenterCrop(input_size).
#include <CLI/CLI.hpp>

#include <iostream>
#include <thread>

#include "comm/placement.h"
#include "common/check.h"
#include "common/log.h"
#include "infer/image_files.h"
#include "infer/inference_model.h"
#include "infer/prediction_writer.h"
#include "infer/predictor.h"

namespace {

constexpr int kSomeFilesFailed = 2;

struct CommandLine {
  std::string checkpoint,
      format = nxt::name_of(nxt::PredictionFormat::kText, nxt::prediction_format_names());
  std::string device = nxt::name_of(nxt::DeviceChoice::kAuto, nxt::kDeviceNames);
  std::string tta;  // empty: the training run's eval.tta
  std::vector<std::string> inputs;
  nxt::PredictOptions options;
};

int run(CommandLine& cli) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (cli.options.threads <= 0) cli.options.threads = cores;
  const nxt::PredictionFormat format = nxt::parse_prediction_format(cli.format);
  nxt::RankOptions rank_options;  // one process: all the cores compute, OpenCV runs per file
  rank_options.device = nxt::enum_from_name(cli.device, nxt::kDeviceNames, "--device");
  rank_options.compute_threads = cores;
  const torch::Device device = nxt::configure_rank(nxt::ProcessPlace{}, rank_options).device;
  nxt::InferenceModel model = nxt::load_inference_model(cli.checkpoint, device);
  if (!cli.tta.empty()) model.tta = nxt::enum_from_name(cli.tta, nxt::kEvalTtaNames, "--tta");
  const std::vector<std::string> files = nxt::collect_image_files(cli.inputs);
  // More classes than the model has, or fewer than one, is taken as "all" / "the best".
  cli.options.topk = std::clamp<int64_t>(cli.options.topk, 1, model.classes.size());
  nxt::PredictionWriter writer(std::cout, format, model.classes, cli.options.topk);
  int64_t failed = 0;
  nxt::predict_files(model, files, cli.options, [&](const nxt::Prediction& prediction) {
    writer.write(prediction);
    if (prediction.error.empty()) return;
    ++failed;
    nxt::log::print_err("nxt_predict: '" + prediction.path + "': " + prediction.error + "\n");
  });
  nxt::log::print_err("nxt_predict: " + std::to_string(files.size() - failed) + " of " +
                      std::to_string(files.size()) + " file(s) classified" +
                      (failed ? ", " + std::to_string(failed) + " failed" : "") + "\n");
  return failed ? kSomeFilesFailed : 0;
}

}  // namespace

int main(int argc, char** argv) {
  return nxt::run_guarded([&] {
    CommandLine cli;
    CLI::App app{"nxt_predict: classify image files and folders with a trained checkpoint"};
    app.add_option("--checkpoint", cli.checkpoint, "best.pt of a training run")->required();
    app.add_option("inputs", cli.inputs, "image files and folders (searched recursively)")
        ->required();
    app.add_option("--topk", cli.options.topk, "classes to show per image (default 5)");
    app.add_option("--format", cli.format, "text | csv | jsonl")
        ->check(CLI::IsMember(nxt::names_of(nxt::prediction_format_names())));
    app.add_option("--batch-size", cli.options.batch_size, "images per forward pass (default 32)");
    app.add_option("--threads", cli.options.threads, "decoding threads (default: all cores)");
    app.add_option("--device", cli.device, "auto | cpu | cuda")
        ->check(CLI::IsMember(nxt::names_of(nxt::kDeviceNames)));
    app.add_option("--tta", cli.tta, "none | flip (default: the run's eval.tta)")
        ->check(CLI::IsMember(nxt::names_of(nxt::kEvalTtaNames)));
    CLI11_PARSE(app, argc, argv);
    return run(cli);
  });
}
