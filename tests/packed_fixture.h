// Makes real packed datasets for tests: demo images drawn by nxt_make_demo_images, packed by
// the same code as data_tools/pack_hdf5.
#pragma once
#include <cstdlib>
#include <string>

#include "packer.h"

namespace nxt::testing_support {

struct DemoPack {
  int classes = 3;
  int per_class = 30;
  int image_size = 40;  // drawn and stored size
  uint64_t seed = 5;
  bool compress = false;
};

// Draws the demo images into `folder` (once per folder) and packs them into `output`.
inline PackReport make_demo_pack(const std::string& folder, const std::string& output,
                                 const DemoPack& spec = {}) {
  const std::string draw =
      std::string(NXT_BIN_DIR) + "/nxt_make_demo_images --output " + folder + " --classes " +
      std::to_string(spec.classes) + " --per-class " + std::to_string(spec.per_class) + " --size " +
      std::to_string(spec.image_size) + " --seed " + std::to_string(spec.seed) + " > /dev/null";
  if (std::system(draw.c_str()) != 0) throw std::runtime_error("cannot run: " + draw);
  PackOptions o;
  o.input = folder;
  o.output = output;
  o.height = o.width = spec.image_size;
  o.threads = 2;
  o.seed = spec.seed;
  o.compress = spec.compress;
  o.progress = false;
  return pack_image_folder(o);
}

}  // namespace nxt::testing_support
