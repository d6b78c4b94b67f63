// Read access to a packed dataset (docs/hdf5-format.md): validated on open, with class names,
// per-split labels and paths, normalisation statistics, and image reads by index.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "data/h5.h"

namespace nxt {

struct SplitData {
  h5::Handle images;  // uint8 [N, H, W, 3]
  std::vector<int32_t> labels;
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

class PackedDataset {
 public:
  // Checks format name and version, shapes, label range and class count; every error names
  // the file and what is wrong.
  explicit PackedDataset(const std::string& path);

  const std::string& path() const { return path_; }
  const std::vector<std::string>& classes() const { return classes_; }
  int64_t num_classes() const { return static_cast<int64_t>(classes_.size()); }
  int64_t height() const { return height_; }
  int64_t width() const { return width_; }
  int64_t image_bytes() const { return height_ * width_ * 3; }
  const std::array<double, 3>& mean() const { return mean_; }
  const std::array<double, 3>& stddev() const { return std_; }
  const std::string& fingerprint() const { return fingerprint_; }
  std::string attribute(const std::string& name) const;  // any string attribute, "" if absent

  bool has_split(const std::string& split) const { return splits_.count(split) > 0; }
  const SplitData& split(const std::string& split) const;
  std::vector<std::string> paths(const std::string& split) const;

  // Copies image `index` of `split` (H*W*3 bytes, HWC RGB) into `out`.
  void read_image(const std::string& split, int64_t index, uint8_t* out) const;

 private:
  void validate_split(const std::string& name, SplitData& data) const;

  std::string path_;
  h5::Handle file_;
  std::vector<std::string> classes_;
  int64_t height_ = 0, width_ = 0;
  std::array<double, 3> mean_{}, std_{};
  std::string fingerprint_;
  std::map<std::string, SplitData> splits_;
};

}  // namespace nxt
