// Benchmark (not a test): this loader's training throughput over a packed file (format version 1
// or 2), as the trainer drives it: shard -> read -> decode -> augment -> uint8 batch ->
// normalised float batch. One rank; run it under `taskset -c 0` for the per-core figure. Prints
// images/s, the bytes read from the file per image, and peak resident memory.
//   nxt_bench_loader FILE.h5 [--epochs E] [--batch B] [--threads T] [--crop MODE] [--no-flip]
//                            [--size S] [--cold] [--warm] [--images N] [--readahead N]
//                            [--cache] [--auto-augment none|trivial] [--color-jitter S]
// --size: the training size (default: the stored size of a version 1 file, 224 for version 2).
// --cold: before each epoch, drop the file's pages from the page cache (posix_fadvise
// DONTNEED, no root needed), so every epoch reads from storage as with a file bigger than RAM.
// --warm: before each epoch, one untimed pass over the same images, so they are in the page cache.
// --images N: each epoch stops after N images (a sample of a big file; 0 = all).
// --cache: the node copy in /dev/shm (data/node_copy.h), written by this process.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <iostream>

#include "common/check.h"
#include "common/process_tuning.h"
#include "data/loader.h"
#include "data/node_copy.h"
#include "data/normalize.h"

namespace nxt {
namespace {

long peak_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// Bytes this process made the kernel fetch from storage (/proc/self/io read_bytes): with a
// cold page cache, what an image really costs the file system, read-ahead included.
uint64_t storage_bytes_read() {
  std::ifstream io("/proc/self/io");
  std::string key;
  uint64_t value = 0;
  while (io >> key >> value)
    if (key == "read_bytes:") return value;
  return 0;
}

// Evicts the file's clean pages from the page cache: the next reads go to storage.
void drop_from_page_cache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  NXT_CHECK(fd >= 0, "cannot open '", path, "'");
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

int run(int argc, char** argv) {
  std::string path, crop = "random_resized", auto_augment = "none";
  double color_jitter = 0;
  int epochs = 1, threads = 1;
  int64_t batch_size = 32, size = 0, readahead = 4, limit = 0;
  bool no_flip = false, cache = false, cold = false, warm = false;
  CLI::App app("nxt loader benchmark");
  app.add_option("file", path)->required();
  app.add_option("--epochs", epochs);
  app.add_option("--batch", batch_size);
  app.add_option("--threads", threads);
  app.add_option("--crop", crop);
  app.add_flag("--no-flip", no_flip);
  app.add_flag("--cache", cache);
  app.add_option("--size", size);
  app.add_flag("--cold", cold);
  app.add_flag("--warm", warm);
  app.add_option("--images", limit);
  app.add_option("--readahead", readahead);
  app.add_option("--auto-augment", auto_augment);
  app.add_option("--color-jitter", color_jitter);
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(1);
  keep_large_buffers_for_reuse();
  single_threaded_opencv();

  const PackedDataset dataset(path);
  ImageReader reader(dataset, "train");
  std::shared_ptr<const NodeCopy> copy;
  if (cache) {
    std::vector<int64_t> all(static_cast<size_t>(reader.size()));
    for (int64_t i = 0; i < reader.size(); ++i) all[static_cast<size_t>(i)] = i;
    copy = std::make_shared<const NodeCopy>(reader, all,
                                            NodeCopyOptions{"/dev/shm", true, 60, "bench"});
    reader.use_node_copy(copy);
  }
  if (size == 0) size = reader.fixed_shape() ? dataset.height() : 224;
  LoaderOptions options;
  options.batch_size = batch_size;
  options.output = reader.fixed_shape() && size == dataset.height()
                       ? ImageShape{dataset.height(), dataset.width()}
                       : ImageShape{size, size};
  options.readahead_batches = readahead;
  options.augment.hflip = !no_flip;
  options.augment.crop = enum_from_name(crop, kCropModeNames, "crop");
  options.augment.auto_augment = enum_from_name(auto_augment, kAutoAugmentNames, "auto_augment");
  options.augment.color_jitter = color_jitter;
  options.threads = threads;
  const Normalizer normalize(kImageNetMean, kImageNetStd, torch::kCPU);

  int64_t images = 0;
  double checksum = 0;
  double seconds = 0;
  uint64_t file_bytes = 0, storage_bytes = 0;
  // One epoch's batches up to `limit` images; returns the images.
  auto pass = [&](int epoch) {
    int64_t seen = 0;
    EpochLoader loader(reader, options, epoch);
    while (auto batch = loader.next()) {
      const torch::Tensor x = normalize(batch->images);
      checksum += x[0][0][0][0].item<double>();  // keeps the work from being optimised away
      seen += batch->images.size(0);
      if (limit > 0 && seen >= limit) break;
    }
    return seen;
  };
  for (int epoch = 0; epoch < epochs; ++epoch) {
    if (cold) drop_from_page_cache(path);  // outside the timed part
    if (warm) pass(epoch);
    const uint64_t bytes_before = reader.file_bytes_read(), storage_before = storage_bytes_read();
    const auto epoch_start = std::chrono::steady_clock::now();
    images += pass(epoch);
    seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    file_bytes += reader.file_bytes_read() - bytes_before;
    storage_bytes += storage_bytes_read() - storage_before;
  }
  const std::string stored =
      reader.fixed_shape()
          ? std::to_string(dataset.height()) + "x" + std::to_string(dataset.width())
          : "v2 " + dataset.storage() + " max side " + std::to_string(dataset.max_side());
  std::cout << "nxt loader: " << images << " images " << stored << " -> " << options.output.height
            << (cold   ? " cold"
                : warm ? " warm"
                       : "")
            << " (" << reader.access_path() << ", crop " << crop << (no_flip ? "" : ", hflip")
            << (auto_augment == "none" ? "" : ", auto_augment " + auto_augment)
            << (color_jitter > 0 ? ", color_jitter " + std::to_string(color_jitter) : "") << ", "
            << threads << " thread(s)) in " << seconds << " s = " << images / seconds << " img/s, "
            << static_cast<double>(file_bytes) / std::max<int64_t>(images, 1) << " file bytes/img, "
            << static_cast<double>(storage_bytes) / std::max<int64_t>(images, 1)
            << " storage bytes/img, peak RSS " << peak_rss_kb() / 1024 << " MB (checksum "
            << checksum << ")" << std::endl;
  return 0;
}

}  // namespace
}  // namespace nxt

int main(int argc, char** argv) {
  return nxt::run_guarded([&] { return nxt::run(argc, argv); });
}
