// Packs an ImageFolder into one HDF5 dataset (docs/hdf5-format.md): parallel decode and resize,
// in-order streaming writes (bounded memory), train-split mean/std, skipped-file list, and an
// atomic publish (temp file beside the target, fsync, rename).
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "data/image_prep.h"
#include "image_folder.h"

namespace nxt {

struct PackOptions {
  std::string input;
  std::string output;
  std::string val_dir;  // a separate validation folder; then val_fraction is unused
  int height = 224, width = 224;
  ResizeMode resize = ResizeMode::kStretch;
  double val_fraction = 0.2;
  uint64_t seed = 0;
  int threads = 1;
  bool compress = false;
  bool strict = false;                        // any skipped file fails the pack
  bool progress = true;                       // a bar on a terminal, periodic lines otherwise
  const std::atomic<bool>* cancel = nullptr;  // set by a signal handler: stop, leave no file
};

struct PackReport {
  std::vector<std::string> classes;
  size_t train_images = 0, val_images = 0;
  std::vector<SkippedFile> skipped;
  double mean[3] = {0, 0, 0}, stddev[3] = {0, 0, 0};
  double seconds = 0;
};

// Throws nxt::Error on bad input, on an empty result, on a skipped file with `strict`, and on
// cancellation; the output path is then untouched.
PackReport pack_image_folder(const PackOptions& options);

}  // namespace nxt
