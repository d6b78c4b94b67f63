// Makes version 2 packed files for tests: an ImageFolder of small photo-like JPEGs of many aspect
// ratios (portrait, landscape, square, some under the max side), drawn here, packed by the real
// nxt_pack_hdf5 --max-side (raw, jpeg or mixed). Shared by test_stored_sample.cpp and
// test_loader.cpp.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/hash.h"
#include "data/jpeg.h"

namespace nxt::testing_support {

struct AspectFolder {
  int classes = 3;
  int per_class = 12;
  int min_side = 40, max_side = 150;  // each side drawn in [min_side, max_side]
  uint64_t seed = 7;
};

// One scene, HWC RGB: a smooth gradient, fine stripes (detail a bad resize or a shifted crop
// would show), a class-coloured ellipse, a bright bar and seeded noise, so JPEG sizes and
// resampling errors are photo-like rather than those of flat colour. Plain loops, no OpenCV.
inline std::vector<uint8_t> aspect_scene(int height, int width, int label, uint64_t seed) {
  SplitMix64 rng(seed);
  const double base[3] = {double(rng.below(200)), double(rng.below(200)), double(rng.below(200))};
  const double colour[3] = {label == 0 ? 230.0 : 30.0, label == 1 ? 230.0 : 40.0,
                            label == 2 ? 230.0 : 50.0};
  const double cy = double(rng.below(uint64_t(height))), cx = double(rng.below(uint64_t(width)));
  const double ry = height / 5.0 + 1, rx = width / 4.0 + 1;
  const double y0 = double(rng.below(uint64_t(height))), y1 = double(rng.below(uint64_t(height)));
  std::vector<uint8_t> image(size_t(height) * size_t(width) * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const bool in_ellipse =
          (y - cy) * (y - cy) / (ry * ry) + (x - cx) * (x - cx) / (rx * rx) <= 1.0;
      const bool on_bar = std::abs(y - (y0 + (y1 - y0) * x / width)) < 1.5;
      for (int c = 0; c < 3; ++c) {
        double value =
            base[c] + 50.0 * x / width + 30.0 * y / height + (((x / 3 + y / 5) % 2) ? 12 : 0);
        if (in_ellipse) value = colour[c];
        if (on_bar) value = 250 - colour[c];
        value += double(rng.below(16));
        image[(size_t(y) * size_t(width) + size_t(x)) * 3 + size_t(c)] =
            static_cast<uint8_t>(std::clamp(value, 0.0, 255.0));
      }
    }
  return image;
}

// Writes the folder (class_k/img_i.jpg, quality 95) once; the shapes come from the seed.
inline void make_aspect_folder(const std::string& folder, const AspectFolder& spec = {}) {
  namespace fs = std::filesystem;
  if (fs::exists(folder)) return;
  SplitMix64 rng(spec.seed);
  for (int label = 0; label < spec.classes; ++label) {
    const fs::path dir = fs::path(folder) / ("class_" + std::to_string(label));
    fs::create_directories(dir);
    for (int i = 0; i < spec.per_class; ++i) {
      const auto side = [&] {
        return spec.min_side + int(rng.below(uint64_t(spec.max_side - spec.min_side + 1)));
      };
      const int height = side(), width = side();
      const std::vector<uint8_t> image = aspect_scene(height, width, label, rng.next());
      const std::vector<uint8_t> jpeg = encode_jpeg(image.data(), height, width, 95);
      std::ofstream(dir / ("img_" + std::to_string(i) + ".jpg"), std::ios::binary)
          .write(reinterpret_cast<const char*>(jpeg.data()), std::streamsize(jpeg.size()));
    }
  }
}

// Packs `folder` into `output` as format version 2 (`store`: raw, jpeg or mixed).
inline void pack_aspect(const std::string& folder, const std::string& output,
                        const std::string& store, int max_side = 96,
                        const std::string& extra = "") {
  const std::string command = std::string(NXT_BIN_DIR) + "/nxt_pack_hdf5 --input " + folder +
                              " --output " + output + " --max-side " + std::to_string(max_side) +
                              " --store " + store + " --seed 3 --threads 2 --quiet " + extra +
                              " > /dev/null";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("cannot run: " + command);
}

}  // namespace nxt::testing_support
