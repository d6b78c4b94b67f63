// Implements the direct (pread), HDF5 and in-memory image read paths.
#include "data/image_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/check.h"
#include "common/enum_names.h"
#include "common/log.h"

namespace nxt {
namespace {

// True when the dataset is chunked one image per chunk with no filters: each image is then
// a plain byte range in the file.
bool one_plain_image_per_chunk(hid_t images, int64_t image_bytes) {
  h5::Handle plist(H5Dget_create_plist(images), H5Pclose);
  if (H5Pget_layout(plist) != H5D_CHUNKED || H5Pget_nfilters(plist) != 0) return false;
  hsize_t chunk[4] = {};
  if (H5Pget_chunk(plist, 4, chunk) != 4) return false;
  return chunk[0] == 1 && static_cast<int64_t>(chunk[1] * chunk[2] * chunk[3]) == image_bytes;
}

uint64_t file_size_of(int fd, const std::string& path) {
  struct stat info {};
  if (fstat(fd, &info) != 0) throw Error("cannot stat '" + path + "': " + std::strerror(errno));
  return static_cast<uint64_t>(info.st_size);
}

}  // namespace

ImageReader::ImageReader(const PackedDataset& dataset, const std::string& split)
    : dataset_(dataset), split_(split), labels_(dataset.split(split).labels) {
  std::lock_guard<std::mutex> lock(h5::library_mutex());
  if (one_plain_image_per_chunk(dataset.split(split).images, image_bytes())) locate_chunks();
}

ImageReader::~ImageReader() {
  if (fd_ >= 0) ::close(fd_);
}

void ImageReader::locate_chunks() {
  const std::string& path = dataset_.path();
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw Error("cannot open '" + path + "': " + std::strerror(errno));
  const uint64_t file_size = file_size_of(fd_, path);
  const hid_t images = dataset_.split(split_).images;
  std::vector<uint64_t> offsets(static_cast<size_t>(size()));
  bool evenly_spaced = true;
  for (int64_t i = 0; i < size(); ++i) {
    const hsize_t coord[4] = {static_cast<hsize_t>(i), 0, 0, 0};
    unsigned filter_mask = 0;
    haddr_t address = HADDR_UNDEF;
    hsize_t stored = 0;
    if (H5Dget_chunk_info_by_coord(images, coord, &filter_mask, &address, &stored) < 0 ||
        address == HADDR_UNDEF)
      throw Error(location_of(i) + " was never written (the file is incomplete; pack it again)");
    if (static_cast<int64_t>(stored) != image_bytes() || address + stored > file_size)
      throw Error(location_of(i) + " lies beyond the end of the file (" +
                  std::to_string(file_size) + " bytes): the file is truncated; pack it again");
    offsets[i] = address;
    if (i > 0)
      evenly_spaced = evenly_spaced && offsets[i] - offsets[i - 1] == offsets[1] - offsets[0];
  }
  if (size() > 0 && evenly_spaced) {
    first_offset_ = offsets[0];
    stride_ = size() > 1 ? offsets[1] - offsets[0] : 0;
  } else {
    offsets_ = std::move(offsets);
  }
  access_ = Access::kDirect;
}

std::string ImageReader::location_of(int64_t index) const {
  return "'" + dataset_.path() + "': /" + split_ + "/images[" + std::to_string(index) + "]";
}

uint64_t ImageReader::offset_of(int64_t index) const {
  return offsets_.empty() ? first_offset_ + static_cast<uint64_t>(index) * stride_
                          : offsets_[static_cast<size_t>(index)];
}

void ImageReader::read(int64_t index, uint8_t* out) const {
  NXT_CHECK(index >= 0 && index < size(), "image index ", index, " out of range for split '",
            split_, "' of size ", size(), " in '", dataset_.path(), "'");
  ++reads_;
  const size_t bytes = static_cast<size_t>(image_bytes());
  switch (access_) {
    case Access::kMemory:
      std::memcpy(out, memory_.data() + static_cast<size_t>(index) * bytes, bytes);
      return;
    case Access::kHdf5: {
      std::lock_guard<std::mutex> lock(h5::library_mutex());
      dataset_.read_image(split_, index, out);
      return;
    }
    case Access::kDirect:
      break;
  }
  size_t done = 0;
  while (done < bytes) {
    const ssize_t got =
        ::pread(fd_, out + done, bytes - done, static_cast<off_t>(offset_of(index) + done));
    if (got <= 0)
      throw Error("cannot read " + location_of(index) + ": " +
                  (got == 0 ? std::string("unexpected end of file") : std::strerror(errno)));
    done += static_cast<size_t>(got);
  }
}

void ImageReader::cache_in_memory() {
  const uint64_t total = static_cast<uint64_t>(size()) * static_cast<uint64_t>(image_bytes());
  log::info() << "caching split '" << split_ << "' in memory: " << size() << " images, "
              << total / (1024.0 * 1024.0) << " MiB per rank";
  std::vector<uint8_t> memory(total);
  for (int64_t i = 0; i < size(); ++i)
    read(i, memory.data() + static_cast<size_t>(i) * static_cast<size_t>(image_bytes()));
  memory_ = std::move(memory);
  access_ = Access::kMemory;
}

const char* ImageReader::access_path() const {
  static const EnumNames<Access> names = {
      {Access::kDirect, "direct"}, {Access::kHdf5, "hdf5"}, {Access::kMemory, "memory"}};
  return name_of(access_, names);
}

}  // namespace nxt
