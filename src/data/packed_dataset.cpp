// Implements opening and validating a packed dataset, and single-image reads.
#include "data/packed_dataset.h"

#include <algorithm>

#include "common/check.h"
#include "data/dataset_format.h"

namespace nxt {
namespace {

std::array<double, 3> three(const std::vector<double>& values, const std::string& what,
                            const std::string& file) {
  if (values.size() != 3)
    throw Error("'" + file + "': attribute '" + what + "' must have 3 values, has " +
                std::to_string(values.size()));
  return {values[0], values[1], values[2]};
}

}  // namespace

PackedDataset::PackedDataset(const std::string& path) : path_(path) {
  file_ = h5::open_file_readonly(path);
  auto fail = [&](const std::string& what) -> Error { return Error("'" + path + "': " + what); };
  try {
    if (!h5::has_attribute(file_, format::kAttrFormat) ||
        h5::read_string_attribute(file_, format::kAttrFormat) != format::kFormatName)
      throw fail(std::string("not an nxt dataset (root attribute 'format' is not '") +
                 format::kFormatName + "'); pack image folders with data_tools/pack_hdf5");
    const int64_t version = h5::read_int_attribute(file_, format::kAttrVersion).at(0);
    if (version > format::kFormatVersion)
      throw fail("format_version " + std::to_string(version) + " is newer than this nxt reads (" +
                 std::to_string(format::kFormatVersion) + ")");
    if (h5::read_string_attribute(file_, format::kAttrLayout) != format::kLayoutNhwc ||
        h5::read_int_attribute(file_, format::kAttrChannels).at(0) != 3)
      throw fail("only NHWC 3-channel images are supported");
    const std::vector<int64_t> size = h5::read_int_attribute(file_, format::kAttrImageSize);
    if (size.size() != 2 || size[0] < 1 || size[1] < 1)
      throw fail("attribute 'image_size' must be [H, W]");
    height_ = size[0];
    width_ = size[1];
    mean_ = three(h5::read_double_attribute(file_, format::kAttrMean), format::kAttrMean, path);
    std_ = three(h5::read_double_attribute(file_, format::kAttrStd), format::kAttrStd, path);
    fingerprint_ = attribute(format::kAttrFingerprint);
    classes_ = h5::read_strings(h5::open_dataset(file_, format::kClasses, path));
  } catch (const Error& e) {
    const std::string text = e.what();
    if (text.rfind("'" + path + "'", 0) == 0) throw;
    throw fail(text);
  }
  if (classes_.empty()) throw fail("dataset '/classes' is empty");
  for (const char* name : format::kSplits) {
    if (!h5::exists(file_, name)) continue;
    SplitData data;
    data.images = h5::open_dataset(file_, std::string(name) + "/" + format::kImages, path);
    data.labels =
        h5::read_int32s(h5::open_dataset(file_, std::string(name) + "/" + format::kLabels, path));
    validate_split(name, data);
    splits_.emplace(name, std::move(data));
  }
  if (!has_split(format::kTrainSplit))
    throw fail(std::string("group '/") + format::kTrainSplit + "' is missing");
}

void PackedDataset::validate_split(const std::string& name, SplitData& data) const {
  const std::vector<hsize_t> shape = h5::shape_of(data.images);
  const std::vector<hsize_t> expected = {static_cast<hsize_t>(data.size()),
                                         static_cast<hsize_t>(height_),
                                         static_cast<hsize_t>(width_), 3};
  if (shape != expected) {
    std::string got;
    for (hsize_t d : shape) got += (got.empty() ? "" : ", ") + std::to_string(d);
    throw Error("'" + path_ + "': /" + name + "/images has shape [" + got + "], expected [" +
                std::to_string(data.size()) + ", " + std::to_string(height_) + ", " +
                std::to_string(width_) + ", 3] (from labels and image_size)");
  }
  h5::Handle type(H5Dget_type(data.images), H5Tclose);
  if (H5Tget_class(type) != H5T_INTEGER || H5Tget_size(type) != 1)
    throw Error("'" + path_ + "': /" + name + "/images must be uint8");
  const auto [low, high] = std::minmax_element(data.labels.begin(), data.labels.end());
  if (!data.labels.empty() && (*low < 0 || *high >= num_classes()))
    throw Error("'" + path_ + "': /" + name + "/labels has values in [" + std::to_string(*low) +
                ", " + std::to_string(*high) + "] but there are " + std::to_string(num_classes()) +
                " classes");
}

std::string PackedDataset::attribute(const std::string& name) const {
  return h5::has_attribute(file_, name) ? h5::read_string_attribute(file_, name) : std::string();
}

const SplitData& PackedDataset::split(const std::string& name) const {
  auto it = splits_.find(name);
  if (it == splits_.end()) throw Error("'" + path_ + "' has no split '" + name + "'");
  return it->second;
}

std::vector<std::string> PackedDataset::paths(const std::string& name) const {
  return h5::read_strings(h5::open_dataset(file_, name + "/" + format::kPaths, path_));
}

void PackedDataset::read_image(const std::string& name, int64_t index, uint8_t* out) const {
  const SplitData& data = split(name);
  NXT_CHECK(index >= 0 && index < data.size(), "image index ", index, " out of range for split '",
            name, "' of size ", data.size());
  h5::Handle file_space(H5Dget_space(data.images), H5Sclose);
  const hsize_t start[4] = {static_cast<hsize_t>(index), 0, 0, 0};
  const hsize_t count[4] = {1, static_cast<hsize_t>(height_), static_cast<hsize_t>(width_), 3};
  H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, count, nullptr);
  h5::Handle memory_space(H5Screate_simple(4, count, nullptr), H5Sclose);
  if (H5Dread(data.images, H5T_NATIVE_UINT8, memory_space, file_space, H5P_DEFAULT, out) < 0)
    throw Error("'" + path_ + "': cannot read /" + name + "/images[" + std::to_string(index) +
                "] (file truncated or corrupt?)");
}

}  // namespace nxt
