// Packs an ImageFolder into one HDF5 dataset (docs/hdf5-format.md): parallel decode and resize,
// in-order streaming writes (bounded memory), train/val and an optional held-out test split,
// train-split mean/std, skipped-file list, and an atomic publish (temp file beside the target,
// fsync, rename). Format version 1 (--size: raw squares) or 2 (--max-side: each image's own
// aspect ratio, stored raw or as JPEG in one byte stream per split with an index).
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "common/enum_names.h"
#include "data/dataset_format.h"
#include "data/image_prep.h"
#include "image_folder.h"

namespace nxt {

// How format version 2 stores each image (--store): its raw pixels, a JPEG re-encoded at
// --jpeg-quality, or per image one of the two (a seeded hash of its path picks JPEG for a
// --jpeg-share of them, FFCV's "proportion" mode).
enum class StoreMode { kRaw, kJpeg, kMixed };
const EnumNames<StoreMode>& store_mode_names();  // raw | jpeg | mixed

struct PackOptions {
  std::string input;
  std::string output;
  std::string val_dir;            // a separate validation folder; then val_fraction is unused
  std::string test_dir;           // a separate test folder; excludes test_fraction
  int height = 224, width = 224;  // version 1's square (--size); unused with max_side
  ResizeMode resize = ResizeMode::kStretch;
  // > 0: format version 2, each image fitted to this longer side (fit_size in data/image_prep.h);
  // 0: version 1 squares of height x width.
  int max_side = 0;
  StoreMode store = StoreMode::kRaw;  // version 2 only
  int jpeg_quality = 90;              // 1..100, for the JPEG records
  double jpeg_share = 0.5;            // StoreMode::kMixed: the share stored as JPEG, in [0, 1]
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
  // Version 2: the bytes of all splits' streams, and how many images were stored as JPEG.
  uint64_t stored_bytes = 0;
  size_t jpeg_images = 0;
};

// Throws nxt::Error on bad input, on an empty result, on a skipped file with `strict`, on
// options that do not go together (--compress, --store without --max-side, ranges), and on
// cancellation; the output path is then untouched.
PackReport pack_image_folder(const PackOptions& options);

// The encoding of the image at `relative` (its path in the folder) under `options`: kMixed picks
// JPEG when a hash of (seed, relative) maps below jpeg_share, so the choice is the same whatever
// the thread count and order.
format::Encoding encoding_for(const PackOptions& options, const std::string& relative);

}  // namespace nxt
