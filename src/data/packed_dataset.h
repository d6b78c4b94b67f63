// Read access to a packed dataset (docs/hdf5-format.md), format version 1 or 2: validated on
// open, with class names, per-split labels and paths, normalisation statistics, version 2's
// per-image index, and version 1's image reads through HDF5 (data/image_reader.h reads both).
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "data/dataset_format.h"
#include "data/h5.h"
#include "data/image_shape.h"

namespace nxt {

// Where one stored image's bytes are in its split's stream, and what they hold (version 2's index
// row, 24 bytes in memory: 31 MB for ImageNet's 1.28M).
struct StoredImage {
  uint64_t offset = 0;  // in the split's stream (version 1: index * image_bytes)
  uint32_t bytes = 0;
  uint16_t height = 0, width = 0;
  format::Encoding encoding = format::Encoding::kRaw;
  ImageShape shape() const { return {height, width}; }
};

struct SplitData {
  h5::Handle images;  // version 1: uint8 [N, H, W, 3]; version 2: the stream, uint8 [B]
  std::vector<StoredImage> index;  // version 2: one per image, validated; version 1: empty
  uint64_t stream_bytes = 0;       // version 2: the stream's length
  std::vector<int32_t> labels;
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

class PackedDataset {
 public:
  // Checks format name and version, shapes, label range and class count; every error names
  // the file and what is wrong.
  explicit PackedDataset(const std::string& path);

  const std::string& path() const { return path_; }
  int64_t version() const { return version_; }  // 1 or 2 (data/dataset_format.h)
  // Version 2: pack_hdf5 --max-side and --store (raw | jpeg | mixed). Version 1: 0 and "raw".
  int64_t max_side() const { return max_side_; }
  const std::string& storage() const { return storage_; }
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

  // Version 1: copies image `index` of `split` (H*W*3 bytes, HWC RGB) into `out` via H5Dread.
  void read_image(const std::string& split, int64_t index, uint8_t* out) const;

 private:
  void validate_split(const std::string& name, SplitData& data) const;
  void validate_fixed_squares(const std::string& name, const SplitData& data) const;
  void validate_index(const std::string& name, SplitData& data) const;  // version 2
  void check_labels(const std::string& name, const SplitData& data) const;

  std::string path_;
  h5::Handle file_;
  int64_t version_ = 1, max_side_ = 0;
  std::string storage_ = "raw";
  std::vector<std::string> classes_;
  int64_t height_ = 0, width_ = 0;
  std::array<double, 3> mean_{}, std_{};
  std::string fingerprint_;
  std::map<std::string, SplitData> splits_;
};

}  // namespace nxt
