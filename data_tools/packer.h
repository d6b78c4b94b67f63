// Packs an ImageFolder into one HDF5 dataset (docs/hdf5-format.md): parallel decode and resize,
// in-order streaming writes (bounded memory), train/val and an optional held-out test split,
// train-split mean/std, skipped-file list, and an atomic publish (temp file beside the target,
// fsync, rename).
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
  std::string val_dir;   // a separate validation folder; then val_fraction is unused
  std::string test_dir;  // a separate test folder; excludes test_fraction
  int height = 224, width = 224;
  ResizeMode resize = ResizeMode::kStretch;
  double val_fraction = 0.2;
  double test_fraction = 0;  // drawn after val, from the input folder; 0 and no test_dir: no split
  uint64_t seed = 0;
  int threads = 1;
  bool compress = false;
  bool strict = false;                        // any skipped file fails the pack
  bool progress = true;                       // a bar on a terminal, periodic lines otherwise
  const std::atomic<bool>* cancel = nullptr;  // set by a signal handler: stop, leave no file
};

struct PackReport {
  std::vector<std::string> classes;
  size_t train_images = 0, val_images = 0, test_images = 0;
  bool has_test = false;  // a test split was written (test_fraction > 0 or test_dir)
  std::vector<SkippedFile> skipped;
  double mean[3] = {0, 0, 0}, stddev[3] = {0, 0, 0};
  double seconds = 0;
};

// Throws nxt::Error on bad input, on an empty result, on a skipped file with `strict`, and on
// cancellation; the output path is then untouched.
PackReport pack_image_folder(const PackOptions& options);

}  // namespace nxt
