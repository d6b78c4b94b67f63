// nxt_eval: evaluates a trained checkpoint on a split of a packed dataset and reports accuracy
// (top-1; top-5 with more than 5 classes; eval.tta or --tta applied),
// per-class precision/recall/F1 and the confusion matrix. Runs alone or under mpirun, where each
// rank evaluates its shard and the exact counts are summed (same numbers for any rank count).
// Images are prepared as training's evaluation prepared them: format version 1 files with the
// checkpoint's centre-crop ratio, version 2 files with its Resize(shorter side) + CenterCrop.
#include <CLI/CLI.hpp>

#include "comm/communicator.h"
#include "comm/placement.h"
#include "common/check.h"
#include "common/log.h"
#include "common/mpi_env.h"
#include "data/image_reader.h"
#include "data/normalize.h"
#include "data/packed_dataset.h"
#include "eval/evaluate.h"
#include "infer/eval_report.h"
#include "infer/inference_model.h"

namespace {

struct CommandLine {
  std::string checkpoint, data, split = "val", out_dir;
  std::string device = nxt::name_of(nxt::DeviceChoice::kAuto, nxt::kDeviceNames);
  std::string tta;         // empty: the training run's eval.tta
  int64_t batch_size = 0;  // 0: the training run's data.batch_size
  int threads = 0;         // 0: cores / local ranks
};

void check_same_classes(const nxt::InferenceModel& model, const nxt::PackedDataset& dataset,
                        const CommandLine& cli) {
  if (model.classes == dataset.classes()) return;
  std::string detail;
  for (size_t i = 0; i < std::max(model.classes.size(), dataset.classes().size()); ++i) {
    const std::string ours = i < model.classes.size() ? model.classes[i] : "(none)";
    const std::string theirs = i < dataset.classes().size() ? dataset.classes()[i] : "(none)";
    if (ours != theirs) {
      detail = "class " + std::to_string(i) + " is '" + ours + "' in the checkpoint but '" +
               theirs + "' in the dataset";
      break;
    }
  }
  throw nxt::Error("'" + cli.data + "' does not have the classes checkpoint '" + cli.checkpoint +
                   "' was trained on (" + std::to_string(model.classes.size()) + " vs " +
                   std::to_string(dataset.classes().size()) + " classes; " + detail + ")");
}

// A checkpoint evaluated on data packed the other way (pack_hdf5 --size vs --max-side) works
// (the split's own layout decides the preparation) but is not what its training measured.
void warn_on_other_layout(const nxt::InferenceModel& model, const nxt::PackedDataset& dataset,
                          const CommandLine& cli, int rank) {
  const bool trained_fixed = model.preprocess.layout() == nxt::StoredLayout::kFixedSquares;
  const bool data_fixed = dataset.version() == nxt::format::kFixedSquaresVersion;
  if (rank != 0 || trained_fixed == data_fixed) return;
  const auto layout = [](bool fixed, int64_t max_side) {
    return fixed ? std::string("format version 1 (fixed squares)")
                 : "format version 2 (aspect kept, max side " + std::to_string(max_side) + ")";
  };
  nxt::log::warn() << "checkpoint '" << cli.checkpoint << "' was trained on "
                   << layout(trained_fixed, model.preprocess.max_side) << " data; '" << cli.data
                   << "' is " << layout(data_fixed, dataset.max_side())
                   << ": evaluating it as such, which training's validation did not measure";
}

nxt::EvalSetup eval_setup(const nxt::InferenceModel& model, const nxt::ImageReader& reader,
                          const nxt::Normalizer& normalize, const CommandLine& cli,
                          int loader_threads) {
  nxt::EvalSetup setup;
  setup.reader = &reader;
  setup.loader.batch_size = cli.batch_size > 0 ? cli.batch_size : model.config.data.batch_size;
  setup.loader.output = {model.preprocess.input_size, model.preprocess.input_size};
  setup.loader.eval_crop_ratio = model.preprocess.eval_crop_ratio;  // version 1 files
  // Version 2 files (own aspect ratios): Resize(shorter side) + CenterCrop, as training's
  // evaluation on them; 0 leaves version 1 files on the crop ratio above.
  if (!reader.fixed_shape())
    setup.loader.eval_resize_shorter = nxt::eval_resize_for_aspect_kept(model);
  setup.loader.threads = loader_threads;
  setup.loader.pin_memory = model.device.is_cuda();
  setup.normalize = &normalize;
  setup.channels_last = model.channels_last;
  setup.bf16_autocast = model.bf16_autocast;
  setup.tta = model.tta;
  return setup;
}

int run(int argc, char** argv, const CommandLine& cli) {
  nxt::MpiSession mpi(&argc, &argv);
  const nxt::ProcessPlace place = mpi.place();
  nxt::RankOptions rank_options;
  rank_options.device = nxt::enum_from_name(cli.device, nxt::kDeviceNames, "--device");
  if (cli.threads > 0) rank_options.compute_threads = cli.threads;
  const nxt::RankCompute compute = nxt::configure_rank(place, rank_options);
  const torch::Device device = compute.device;
  nxt::InferenceModel model = nxt::load_inference_model(cli.checkpoint, device);
  if (!cli.tta.empty()) model.tta = nxt::enum_from_name(cli.tta, nxt::kEvalTtaNames, "--tta");
  const nxt::PackedDataset dataset(cli.data);
  check_same_classes(model, dataset, cli);
  NXT_CHECK(
      dataset.has_split(cli.split), "'", cli.data, "' has no split '", cli.split, "'",
      cli.split == "test" ? " (pack_hdf5 writes one with --test-fraction or --test-dir)" : "");
  const nxt::ImageReader reader(dataset, cli.split);
  NXT_CHECK(reader.size() > 0, "split '", cli.split, "' of '", cli.data, "' holds no images");
  warn_on_other_layout(model, dataset, cli, mpi.rank());
  const nxt::Normalizer normalize(model.preprocess.mean, model.preprocess.stddev, device);
  auto comm = nxt::make_communicator(nxt::DistBackend::kAuto, device, place);

  nxt::EvalDetails details{nxt::ConfusionMatrix(static_cast<int64_t>(model.classes.size())), {}};
  nxt::ResNeXt net = model.model;
  const nxt::MetricTotals totals =
      nxt::evaluate(net, eval_setup(model, reader, normalize, cli, compute.loader_threads), *comm,
                    nxt::EvalMode::kSharded, &details);
  NXT_CHECK(details.confusion.total() == reader.size(), "evaluated ", details.confusion.total(),
            " of the ", reader.size(), " images of split '", cli.split, "'");
  const nxt::Communicator::Rank0Phase rank0_writes(*comm);  // the others wait in the barrier
  if (mpi.rank() == 0) {
    nxt::EvalReport report{cli.checkpoint,
                           cli.data,
                           cli.split,
                           model.classes,
                           details.confusion,
                           totals.mean_loss(),
                           dataset.paths(cli.split),
                           dataset.split(cli.split).labels,
                           details.predicted};
    if (nxt::reports_top5(static_cast<int64_t>(model.classes.size())))
      report.top5_correct = totals.top5_correct;  // Note [top-5 with few classes]
    report.tta = model.tta;
    nxt::log::print_out(nxt::format_report(report));
    if (!cli.out_dir.empty()) {
      nxt::write_report_files(report, cli.out_dir);
      nxt::log::print_out(
          "wrote metrics.json, per_class.csv, confusion.csv, confusion.png, predictions.csv to " +
          cli.out_dir + "\n");
    }
  }
  comm->barrier();  // a rank-0 failure writing files aborts the job, not a silent exit 0
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return nxt::run_guarded([&] {
    CommandLine cli;
    CLI::App app{
        "nxt_eval: evaluate a trained checkpoint on a packed split (alone or under mpirun)"};
    app.add_option("--checkpoint", cli.checkpoint, "best.pt or last.pt of a training run")
        ->required();
    app.add_option("--data", cli.data, "packed HDF5 dataset (data_tools/pack_hdf5)")->required();
    app.add_option("--split", cli.split, "split to evaluate: val (default), train or test");
    app.add_option("--out", cli.out_dir,
                   "also write metrics.json, per_class.csv, confusion.csv, confusion.png here");
    app.add_option("--batch-size", cli.batch_size, "per rank (default: the run's data.batch_size)");
    app.add_option("--device", cli.device, "auto | cpu | cuda")
        ->check(CLI::IsMember(nxt::names_of(nxt::kDeviceNames)));
    app.add_option("--threads", cli.threads, "CPU compute threads per rank (default: shared)");
    app.add_option("--tta", cli.tta, "none | flip (default: the run's eval.tta)")
        ->check(CLI::IsMember(nxt::names_of(nxt::kEvalTtaNames)));
    CLI11_PARSE(app, argc, argv);
    return run(argc, argv, cli);
  });
}
