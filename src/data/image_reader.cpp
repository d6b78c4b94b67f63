// Implements the record reads of both format versions: the direct (pread) path over the
// split's chunk locations, the HDF5 path for compressed version 1 files, the node copy, JPEG
// decoding, and read-ahead hints.
#include "data/image_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/check.h"
#include "common/fs.h"
#include "data/jpeg.h"
#include "data/node_copy.h"

namespace nxt {
namespace {

// The dataset's chunk size in bytes when it is chunked with no filters (each chunk then a plain
// byte range in the file), else 0. Version 1 qualifies with one image per chunk only.
uint64_t plain_chunk_bytes(hid_t dataset) {
  h5::Handle plist(H5Dget_create_plist(dataset), H5Pclose);
  if (H5Pget_layout(plist) != H5D_CHUNKED || H5Pget_nfilters(plist) != 0) return 0;
  hsize_t chunk[4] = {};
  const int rank = H5Pget_chunk(plist, 4, chunk);
  if (rank < 1) return 0;
  uint64_t bytes = 1;
  for (int d = 0; d < rank; ++d) bytes *= chunk[d];
  return rank == 4 && chunk[0] != 1 ? 0 : bytes;
}

uint64_t file_size_of(int fd, const std::string& path) {
  struct stat info {};
  if (fstat(fd, &info) != 0) throw Error("cannot stat '" + path + "': " + errno_text());
  return static_cast<uint64_t>(info.st_size);
}

}  // namespace

ImageReader::ImageReader(const PackedDataset& dataset, const std::string& split)
    : dataset_(dataset), split_(split), labels_(dataset.split(split).labels) {
  std::lock_guard<std::mutex> lock(h5::library_mutex());
  const hid_t stream = dataset.split(split).images;
  chunk_bytes_ = plain_chunk_bytes(stream);
  if (fixed_shape()) {
    if (chunk_bytes_ == static_cast<uint64_t>(dataset.image_bytes())) locate_chunks();
  } else {
    if (chunk_bytes_ == 0)
      throw Error("'" + dataset.path() + "': /" + split + "/" + format::kData +
                  " is not stored in unfiltered chunks, which version 2 readers need (pack it "
                  "again with pack_hdf5 --max-side)");
    locate_chunks();
  }
}

ImageReader::~ImageReader() {
  if (fd_ >= 0) ::close(fd_);
}

void ImageReader::locate_chunks() {
  const std::string& path = dataset_.path();
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw Error("cannot open '" + path + "': " + errno_text());
  const uint64_t file_size = file_size_of(fd_, path);
  const SplitData& data = dataset_.split(split_);
  const uint64_t stream_bytes =
      fixed_shape() ? static_cast<uint64_t>(size()) * chunk_bytes_ : data.stream_bytes;
  const int64_t chunks = static_cast<int64_t>((stream_bytes + chunk_bytes_ - 1) / chunk_bytes_);
  const std::string object = "'" + path + "': /" + split_ + "/" +
                             (fixed_shape() ? format::kImages : format::kData) + " chunk ";
  std::vector<uint64_t> offsets(static_cast<size_t>(chunks));
  bool evenly_spaced = true;
  for (int64_t c = 0; c < chunks; ++c) {
    // Version 1 is [N, H, W, 3] with one image per chunk; version 2 is 1-D.
    const hsize_t coord[4] = {static_cast<hsize_t>(fixed_shape() ? c : c * chunk_bytes_), 0, 0, 0};
    unsigned filter_mask = 0;
    haddr_t address = HADDR_UNDEF;
    hsize_t stored = 0;
    if (H5Dget_chunk_info_by_coord(data.images, coord, &filter_mask, &address, &stored) < 0 ||
        address == HADDR_UNDEF)
      throw Error(object + std::to_string(c) +
                  " was never written (the file is incomplete; pack it again)");
    if (stored != chunk_bytes_ || address + stored > file_size)
      throw Error(object + std::to_string(c) + " lies beyond the end of the file (" +
                  std::to_string(file_size) + " bytes): the file is truncated; pack it again");
    offsets[static_cast<size_t>(c)] = address;
    if (c > 1)
      evenly_spaced = evenly_spaced && offsets[c] - offsets[c - 1] == offsets[1] - offsets[0];
  }
  if (chunks > 0 && evenly_spaced) {
    first_offset_ = offsets[0];
    stride_ = chunks > 1 ? offsets[1] - offsets[0] : 0;
  } else {
    chunk_offsets_ = std::move(offsets);
  }
  access_ = Access::kDirect;
}

StoredImage ImageReader::stored(int64_t index) const {
  NXT_CHECK(index >= 0 && index < size(), "image index ", index, " out of range for split '",
            split_, "' of size ", size(), " in '", dataset_.path(), "'");
  if (!fixed_shape()) return dataset_.split(split_).index[static_cast<size_t>(index)];
  const auto bytes = static_cast<uint64_t>(dataset_.image_bytes());
  return {static_cast<uint64_t>(index) * bytes, static_cast<uint32_t>(bytes),
          static_cast<uint16_t>(height()), static_cast<uint16_t>(width()), format::Encoding::kRaw};
}

std::string ImageReader::location_of(int64_t index) const {
  if (fixed_shape())
    return "'" + dataset_.path() + "': /" + split_ + "/images[" + std::to_string(index) + "]";
  return "'" + dataset_.path() + "': /" + split_ + "/" + format::kData + ", image " +
         std::to_string(index);
}

uint64_t ImageReader::file_offset_of(uint64_t position) const {
  const uint64_t chunk = position / chunk_bytes_, within = position % chunk_bytes_;
  const uint64_t start = chunk_offsets_.empty() ? first_offset_ + chunk * stride_
                                                : chunk_offsets_[static_cast<size_t>(chunk)];
  return start + within;
}

void ImageReader::pread_exact(uint8_t* out, size_t bytes, uint64_t stream_position,
                              int64_t index) const {
  size_t done = 0;
  while (done < bytes) {
    // A record may straddle chunks (version 2): read up to the end of this one.
    const uint64_t position = stream_position + done;
    const size_t piece = static_cast<size_t>(
        std::min<uint64_t>(bytes - done, chunk_bytes_ - position % chunk_bytes_));
    const ssize_t got =
        ::pread(fd_, out + done, piece, static_cast<off_t>(file_offset_of(position)));
    if (got <= 0)
      throw Error("cannot read " + location_of(index) + ": " +
                  (got == 0 ? std::string("unexpected end of file") : errno_text()));
    done += static_cast<size_t>(got);
  }
  file_bytes_read_ += bytes;
}

ByteView ImageReader::bytes(int64_t index, std::vector<uint8_t>& buffer) const {
  const StoredImage record = stored(index);
  ++reads_;
  if (node_copy_) {
    const ByteView held = node_copy_->find(index);
    if (held.data) return held;
  }
  buffer.resize(record.bytes);
  if (access_ == Access::kHdf5) {
    std::lock_guard<std::mutex> lock(h5::library_mutex());
    dataset_.read_image(split_, index, buffer.data());
  } else {
    pread_exact(buffer.data(), record.bytes, record.offset, index);
  }
  return {buffer.data(), record.bytes};
}

ImageShape ImageReader::decode(int64_t index, int denominator, std::vector<uint8_t>& pixels,
                               std::vector<uint8_t>& buffer) const {
  const StoredImage record = stored(index);
  const ByteView view = bytes(index, buffer);
  if (record.encoding == format::Encoding::kRaw) {
    pixels.assign(view.data, view.data + view.size);
    return record.shape();
  }
  // Checked against the index first: a JPEG of another size would make every crop wrong.
  const JpegHeader header = jpeg_header(view.data, view.size, location_of(index));
  if (header.height != record.height || header.width != record.width)
    throw Error(location_of(index) + ": the index says " + std::to_string(record.height) + "x" +
                std::to_string(record.width) + " but the JPEG is " + std::to_string(header.height) +
                "x" + std::to_string(header.width) + " (the file is damaged; pack it again)");
  const JpegHeader decoded =
      decode_jpeg(view.data, view.size, denominator, pixels, location_of(index));
  return {decoded.height, decoded.width};
}

void ImageReader::read(int64_t index, uint8_t* out) const {
  const StoredImage record = stored(index);
  if (record.encoding == format::Encoding::kRaw && access_ == Access::kDirect &&
      !(node_copy_ && node_copy_->find(index).data)) {
    ++reads_;
    pread_exact(out, record.bytes, record.offset, index);  // straight into the batch
    return;
  }
  thread_local std::vector<uint8_t> buffer, pixels;
  if (record.encoding == format::Encoding::kRaw) {
    const ByteView view = bytes(index, buffer);
    std::memcpy(out, view.data, view.size);
    return;
  }
  decode(index, 1, pixels, buffer);
  std::memcpy(out, pixels.data(), pixels.size());
}

void ImageReader::will_need(const int64_t* indices, size_t count) const {
  if (access_ != Access::kDirect) return;
  for (size_t k = 0; k < count; ++k) {
    if (node_copy_ && node_copy_->find(indices[k]).data) continue;
    const StoredImage record = stored(indices[k]);
    uint64_t position = record.offset;
    const uint64_t end = record.offset + record.bytes;
    while (position < end) {
      const uint64_t piece = std::min(end - position, chunk_bytes_ - position % chunk_bytes_);
      // Advice only: an error here changes nothing the reads will not report themselves.
      (void)posix_fadvise(fd_, static_cast<off_t>(file_offset_of(position)),
                          static_cast<off_t>(piece), POSIX_FADV_WILLNEED);
      position += piece;
    }
  }
}

void ImageReader::use_node_copy(std::shared_ptr<const NodeCopy> copy) {
  node_copy_ = std::move(copy);
}

const char* ImageReader::access_path() const {
  if (access_ == Access::kHdf5) return node_copy_ ? "hdf5 + node copy" : "hdf5";
  return node_copy_ ? "direct + node copy" : "direct";
}

}  // namespace nxt
