// Benchmark (not a test): this loader's training throughput over a packed file, as the trainer
// drives it: shard -> read -> augment -> uint8 batch -> normalised float batch. One rank; run it
// under `taskset -c 0` for the per-core figure. Prints images/s and peak resident memory.
//   nxt_bench_loader FILE.h5 [--epochs E] [--batch B] [--threads T] [--crop MODE] [--no-flip]
//                            [--cache] [--auto-augment none|trivial] [--color-jitter S]
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>

#include "common/check.h"
#include "common/process_tuning.h"
#include "data/loader.h"
#include "data/normalize.h"

namespace nxt {
namespace {

long peak_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

int run(int argc, char** argv) {
  std::string path, crop = "random_resized", auto_augment = "none";
  double color_jitter = 0;
  int epochs = 1, threads = 1;
  int64_t batch_size = 32;
  bool no_flip = false, cache = false;
  CLI::App app("nxt loader benchmark");
  app.add_option("file", path)->required();
  app.add_option("--epochs", epochs);
  app.add_option("--batch", batch_size);
  app.add_option("--threads", threads);
  app.add_option("--crop", crop);
  app.add_flag("--no-flip", no_flip);
  app.add_flag("--cache", cache);
  app.add_option("--auto-augment", auto_augment);
  app.add_option("--color-jitter", color_jitter);
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(1);
  keep_large_buffers_for_reuse();
  single_threaded_opencv();

  const PackedDataset dataset(path);
  ImageReader reader(dataset, "train");
  if (cache) reader.cache_in_memory();
  LoaderOptions options;
  options.batch_size = batch_size;
  options.output = {dataset.height(), dataset.width()};
  options.augment.hflip = !no_flip;
  options.augment.crop = enum_from_name(crop, kCropModeNames, "crop");
  options.augment.auto_augment = enum_from_name(auto_augment, kAutoAugmentNames, "auto_augment");
  options.augment.color_jitter = color_jitter;
  options.threads = threads;
  const Normalizer normalize(kImageNetMean, kImageNetStd, torch::kCPU);

  int64_t images = 0;
  double checksum = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int epoch = 0; epoch < epochs; ++epoch) {
    EpochLoader loader(reader, options, epoch);
    while (auto batch = loader.next()) {
      const torch::Tensor x = normalize(batch->images);
      checksum += x[0][0][0][0].item<double>();  // keeps the work from being optimised away
      images += batch->images.size(0);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "nxt loader: " << images << " images " << dataset.height() << "x" << dataset.width()
            << " (" << reader.access_path() << ", crop " << crop << (no_flip ? "" : ", hflip")
            << (auto_augment == "none" ? "" : ", auto_augment " + auto_augment)
            << (color_jitter > 0 ? ", color_jitter " + std::to_string(color_jitter) : "") << ", "
            << threads << " thread(s)) in " << seconds << " s = " << images / seconds
            << " img/s, peak RSS " << peak_rss_kb() / 1024 << " MB (checksum " << checksum << ")"
            << std::endl;
  return 0;
}

}  // namespace
}  // namespace nxt

int main(int argc, char** argv) {
  return nxt::run_guarded([&] { return nxt::run(argc, argv); });
}
