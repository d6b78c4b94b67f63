// Reads the images of one split of a packed dataset by index, from many threads at once, in
// both formats (docs/hdf5-format.md): version 1's fixed raw squares and version 2's images of
// their own shape, stored raw or as JPEG in one byte stream per split with an index.
//
// Every image is a record: a byte range of the split's stream (version 1: image i is the i-th
// chunk of /<split>/images), its stored shape and its encoding (data/dataset_format.h). Paths,
// chosen on open ("Reading" in docs/hdf5-format.md):
//  - direct: unfiltered chunks (pack_hdf5's default; version 2 always) are located once through
//    H5Dget_chunk_info_by_coord, then read with pread(), which needs no lock and no HDF5 call.
//    Version 2 keeps one offset per 4 MiB chunk; a record that straddles two chunks takes two
//    preads;
//  - hdf5: gzip-compressed version 1 files go through H5Dread, one thread at a time;
//  - node copy: use_node_copy() serves the records it holds from a node-shared mapping
//    (data/node_copy.h: data.cache_in_memory, data.stage_dir), the rest as above.
// Chunk locations are checked against the file size on open, so a truncated file fails there,
// naming the file, and not in the middle of an epoch.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset_format.h"
#include "data/image_shape.h"
#include "data/packed_dataset.h"

namespace nxt {

class NodeCopy;

// A borrowed byte range: valid while the buffer or the node copy it points into lives.
struct ByteView {
  const uint8_t* data = nullptr;
  size_t size = 0;
};

class ImageReader {
 public:
  ImageReader(const PackedDataset& dataset, const std::string& split);
  ~ImageReader();
  ImageReader(const ImageReader&) = delete;
  ImageReader& operator=(const ImageReader&) = delete;

  // True for version 1 files: every image height() x width(), raw.
  bool fixed_shape() const { return dataset_.version() == format::kFixedSquaresVersion; }
  // The record of image `index` (version 1: made up from the fixed shape).
  StoredImage stored(int64_t index) const;
  ImageShape shape(int64_t index) const { return stored(index).shape(); }

  // The stored bytes of image `index` (raw pixels or a JPEG): a view into the node copy when it
  // holds the image, else read into `buffer`. Thread-safe; errors name the file and record.
  ByteView bytes(int64_t index, std::vector<uint8_t>& buffer) const;

  // Decodes image `index` to HWC RGB in `pixels` (resized to fit): raw records as stored, JPEG
  // at 1/denominator scale (1, 2, 4 or 8; data/jpeg.h jpeg_scale_for picks one). Returns the
  // decoded shape. `buffer` holds the stored bytes when they are read from the file.
  ImageShape decode(int64_t index, int denominator, std::vector<uint8_t>& pixels,
                    std::vector<uint8_t>& buffer) const;

  // Copies image `index` at its stored shape (shape(index).bytes() bytes, HWC RGB) to `out`,
  // decoding a JPEG at full size. Thread-safe.
  void read(int64_t index, uint8_t* out) const;

  // Asks the kernel to start reading these images' byte ranges (posix_fadvise WILLNEED), so a
  // cold file system is read ahead of need (data.readahead_batches). Images the node copy holds
  // and the hdf5 path are skipped. Thread-safe; it does not wait for the data, though on a
  // network file system the hint itself may cost a round trip (the loader calls it from the
  // worker preparing a batch, once per batch).
  void will_need(const int64_t* indices, size_t count) const;

  // Later reads of the images `copy` holds come from it (shared with the other ranks of the
  // node); nullptr goes back to the file. Not thread-safe against concurrent reads: call it
  // between epochs.
  void use_node_copy(std::shared_ptr<const NodeCopy> copy);

  int32_t label(int64_t index) const { return labels_.at(static_cast<size_t>(index)); }
  const std::vector<int32_t>& labels() const { return labels_; }  // every sample's, by index
  int64_t num_classes() const { return dataset_.num_classes(); }  // of the dataset, not the split
  int64_t size() const { return static_cast<int64_t>(labels_.size()); }
  // Version 1: the stored size of every image. Version 2: max_side x max_side, the bound.
  int64_t height() const { return dataset_.height(); }
  int64_t width() const { return dataset_.width(); }
  const PackedDataset& dataset() const { return dataset_; }
  const std::string& split() const { return split_; }
  const char* access_path() const;  // "direct", "hdf5", "node copy" or "direct + node copy"
  uint64_t reads() const { return reads_; }                      // images read so far
  uint64_t file_bytes_read() const { return file_bytes_read_; }  // of them, from the file

 private:
  enum class Access { kDirect, kHdf5 };
  void locate_chunks();
  // The file offset of byte `position` of the split's stream (direct path).
  uint64_t file_offset_of(uint64_t position) const;
  void pread_exact(uint8_t* out, size_t bytes, uint64_t stream_position, int64_t index) const;
  // "'file': /split/images[i]" (version 2: /split/data, image i), for error messages.
  std::string location_of(int64_t index) const;

  const PackedDataset& dataset_;
  const std::string split_;
  const std::vector<int32_t>& labels_;
  Access access_ = Access::kHdf5;
  int fd_ = -1;
  // Direct reads: stream chunk c starts in the file at first_offset_ + c * stride_ when the
  // chunks lie evenly (as pack_hdf5 writes them), else at chunk_offsets_[c]; chunk_bytes_ is
  // the stream's chunk size (version 1: one image).
  uint64_t chunk_bytes_ = 0, first_offset_ = 0, stride_ = 0;
  std::vector<uint64_t> chunk_offsets_;
  std::shared_ptr<const NodeCopy> node_copy_;
  mutable std::atomic<uint64_t> reads_{0}, file_bytes_read_{0};
};

}  // namespace nxt
