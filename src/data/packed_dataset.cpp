// Implements opening and validating a packed dataset (versions 1 and 2: version 2's index is
// read and checked row by row here, once), and version 1's single-image reads.
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

// Version 2's /<split>/index, int64 [N, kIndexColumns], row by row.
std::vector<int64_t> read_index_rows(hid_t index, int64_t rows, const std::string& where) {
  const std::vector<hsize_t> shape = h5::shape_of(index);
  if (shape.size() != 2 || shape[0] != static_cast<hsize_t>(rows) ||
      shape[1] != static_cast<hsize_t>(format::kIndexColumns))
    throw Error(where + " must be int64 [" + std::to_string(rows) + ", " +
                std::to_string(format::kIndexColumns) +
                "] (one row per label: " + format::kIndexColumnNames + ")");
  std::vector<int64_t> values(static_cast<size_t>(rows) * format::kIndexColumns);
  if (rows > 0 &&
      H5Dread(index, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
    throw Error("cannot read " + where + " (file truncated or corrupt?)");
  return values;
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
    if (version > format::kFormatVersion || version < 1)
      throw fail("format_version " + std::to_string(version) + " is not one this nxt reads (1 to " +
                 std::to_string(format::kFormatVersion) + ")");
    version_ = version;
    if (version_ >= 2) {
      max_side_ = h5::read_int_attribute(file_, format::kAttrMaxSide).at(0);
      storage_ = h5::read_string_attribute(file_, format::kAttrStorage);
      if (max_side_ < 1 || max_side_ > 65535)
        throw fail("attribute 'max_side' is " + std::to_string(max_side_) +
                   ", expected 1 to 65535");
    }
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
    const char* images = version_ == format::kFixedSquaresVersion ? format::kImages : format::kData;
    data.images = h5::open_dataset(file_, std::string(name) + "/" + images, path);
    data.labels =
        h5::read_int32s(h5::open_dataset(file_, std::string(name) + "/" + format::kLabels, path));
    validate_split(name, data);
    splits_.emplace(name, std::move(data));
  }
  if (!has_split(format::kTrainSplit))
    throw fail(std::string("group '/") + format::kTrainSplit + "' is missing");
}

void PackedDataset::validate_split(const std::string& name, SplitData& data) const {
  h5::Handle type(H5Dget_type(data.images), H5Tclose);
  if (H5Tget_class(type) != H5T_INTEGER || H5Tget_size(type) != 1)
    throw Error("'" + path_ + "': /" + name + "/" +
                (version_ == format::kFixedSquaresVersion ? format::kImages : format::kData) +
                " must be uint8");
  check_labels(name, data);
  if (version_ == format::kFixedSquaresVersion) {
    validate_fixed_squares(name, data);
  } else {
    validate_index(name, data);
  }
}

void PackedDataset::validate_fixed_squares(const std::string& name, const SplitData& data) const {
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
}

void PackedDataset::validate_index(const std::string& name, SplitData& data) const {
  const std::string split = "'" + path_ + "': /" + name + "/";
  const std::vector<hsize_t> stream = h5::shape_of(data.images);
  if (stream.size() != 1) throw Error(split + format::kData + " must be 1-D uint8");
  data.stream_bytes = stream[0];
  const std::vector<int64_t> rows =
      read_index_rows(h5::open_dataset(file_, name + "/" + format::kIndex, path_), data.size(),
                      split + format::kIndex);
  data.index.resize(static_cast<size_t>(data.size()));
  for (int64_t i = 0; i < data.size(); ++i) {
    const int64_t* row = &rows[static_cast<size_t>(i) * format::kIndexColumns];
    const int64_t offset = row[format::kColOffset], bytes = row[format::kColBytes];
    const int64_t height = row[format::kColHeight], width = row[format::kColWidth];
    const int64_t encoding = row[format::kColEncoding];
    auto bad = [&](const std::string& what) {
      return Error(split + format::kIndex + " row " + std::to_string(i) + " (offset " +
                   std::to_string(offset) + ", bytes " + std::to_string(bytes) + ", " +
                   std::to_string(height) + "x" + std::to_string(width) + ", encoding " +
                   std::to_string(encoding) + "): " + what);
    };
    if (offset < 0 || bytes < 1 || bytes > UINT32_MAX ||
        static_cast<uint64_t>(offset + bytes) > data.stream_bytes)
      throw bad("lies outside /" + name + "/" + format::kData + " (" +
                std::to_string(data.stream_bytes) + " bytes): the file is damaged; pack it again");
    if (height < 1 || width < 1 || height > max_side_ || width > max_side_)
      throw bad("the stored size must be 1 to max_side (" + std::to_string(max_side_) + ")");
    if (encoding != static_cast<int64_t>(format::Encoding::kRaw) &&
        encoding != static_cast<int64_t>(format::Encoding::kJpeg))
      throw bad("unknown encoding (0 raw, 1 JPEG)");
    const auto kind = static_cast<format::Encoding>(encoding);
    if (kind == format::Encoding::kRaw && bytes != height * width * 3)
      throw bad("a raw image of that size has " + std::to_string(height * width * 3) + " bytes");
    data.index[static_cast<size_t>(i)] = {
        static_cast<uint64_t>(offset), static_cast<uint32_t>(bytes), static_cast<uint16_t>(height),
        static_cast<uint16_t>(width), kind};
  }
}

void PackedDataset::check_labels(const std::string& name, const SplitData& data) const {
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
  NXT_CHECK(version_ == format::kFixedSquaresVersion, "'", path_,
            "': read_image reads version 1 files; version 2 records go through ImageReader");
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
