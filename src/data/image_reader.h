// Reads the images of one split of a packed dataset by index, from many threads at once.
//
// Three paths, chosen on open (docs/hdf5-format.md, "Reading"):
//  - direct: uncompressed one-image chunks (pack_hdf5's default) are located once through
//    H5Dget_chunk_info_by_coord, then read with pread(), which needs no lock and no HDF5 call;
//  - hdf5: compressed files go through H5Dread, one thread at a time (HDF5 is not thread-safe);
//  - memory: cache_in_memory() copies the whole split into RAM first.
// Chunk locations are checked against the file size on open, so a truncated file fails there,
// naming the file, and not in the middle of an epoch.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "data/packed_dataset.h"

namespace nxt {

class ImageReader {
 public:
  ImageReader(const PackedDataset& dataset, const std::string& split);
  ~ImageReader();
  ImageReader(const ImageReader&) = delete;
  ImageReader& operator=(const ImageReader&) = delete;

  // Copies image `index` (height*width*3 bytes, HWC RGB) to `out`. Thread-safe.
  void read(int64_t index, uint8_t* out) const;
  int32_t label(int64_t index) const { return labels_.at(static_cast<size_t>(index)); }
  const std::vector<int32_t>& labels() const { return labels_; }  // every sample's, by index
  int64_t num_classes() const { return dataset_.num_classes(); }  // of the dataset, not the split

  // Loads every image of the split into memory; later reads are memcpy.
  void cache_in_memory();

  int64_t size() const { return static_cast<int64_t>(labels_.size()); }
  int64_t height() const { return dataset_.height(); }
  int64_t width() const { return dataset_.width(); }
  int64_t image_bytes() const { return dataset_.image_bytes(); }
  const std::string& split() const { return split_; }
  const char* access_path() const;           // "direct", "hdf5" or "memory"
  uint64_t reads() const { return reads_; }  // images read so far

 private:
  enum class Access { kDirect, kHdf5, kMemory };
  void locate_chunks();
  uint64_t offset_of(int64_t index) const;
  // "'file': /split/images[i]", for error messages (built only when one is thrown).
  std::string location_of(int64_t index) const;

  const PackedDataset& dataset_;
  const std::string split_;
  const std::vector<int32_t>& labels_;
  Access access_ = Access::kHdf5;
  int fd_ = -1;
  // Direct reads: chunk i starts at first_offset_ + i * stride_ when the chunks lie evenly
  // (as pack_hdf5 writes them), else at offsets_[i].
  uint64_t first_offset_ = 0, stride_ = 0;
  std::vector<uint64_t> offsets_;
  std::vector<uint8_t> memory_;
  mutable std::atomic<uint64_t> reads_{0};
};

}  // namespace nxt
