// Implements the packing pipeline: scan, split (train, val, optional test), decode (and for
// format version 2 fit and maybe JPEG-encode) on worker threads, write in order: version 1's
// one-image chunks, or version 2's byte stream written chunk by chunk plus its index.
#include "packer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "common/check.h"
#include "common/fs.h"
#include "common/hash.h"
#include "common/ordered_parallel.h"
#include "data/dataset_format.h"
#include "data/h5.h"
#include "data/jpeg.h"

namespace nxt {
namespace {

using Clock = std::chrono::steady_clock;

// Version 2 (--max-side) or version 1 (--size squares); every other choice follows from it.
bool fits_longer_side(const PackOptions& options) {
  return options.max_side > 0;
}

// One decoded image, or why it was skipped, plus its channel sums for the statistics. A version
// 2 JPEG record holds its encoded bytes and no longer its pixels.
struct Prepared {
  cv::Mat rgb;                // HWC RGB, continuous; empty for a JPEG record
  std::vector<uint8_t> jpeg;  // the JPEG record's bytes
  int height = 0, width = 0;  // of the pixels, also when only the JPEG is kept
  format::Encoding encoding = format::Encoding::kRaw;
  std::string error;
  double sum[3] = {0, 0, 0}, sum_squares[3] = {0, 0, 0};
};

Prepared prepare(const LabelledFile& file, const PackOptions& options) {
  Prepared out;
  try {
    out.rgb = fits_longer_side(options)
                  ? load_image_fit(file.path, options.max_side)
                  : load_image(file.path, options.height, options.width, options.resize);
  } catch (const Error& e) {
    out.error = e.what();
    const std::string prefix = "'" + file.path + "': ";
    if (out.error.rfind(prefix, 0) == 0) out.error = out.error.substr(prefix.size());
    return out;
  }
  // A per-channel histogram is one increment per byte; the sums follow from it exactly.
  uint32_t histogram[3][256] = {};
  const uint8_t* pixels = out.rgb.ptr<uint8_t>();
  const size_t count = out.rgb.total();
  for (size_t i = 0; i < count; ++i, pixels += 3) {
    ++histogram[0][pixels[0]];
    ++histogram[1][pixels[1]];
    ++histogram[2][pixels[2]];
  }
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) {
      const double x = v / 255.0;
      out.sum[c] += histogram[c][v] * x;
      out.sum_squares[c] += histogram[c][v] * x * x;
    }
  out.height = out.rgb.rows;
  out.width = out.rgb.cols;
  if (fits_longer_side(options)) {
    if (!out.rgb.isContinuous()) out.rgb = out.rgb.clone();  // records are written as one block
    out.encoding = encoding_for(options, file.relative);
    if (out.encoding == format::Encoding::kJpeg) {
      // The statistics above are of these pixels, before the (lossy) encoding.
      out.jpeg = encode_jpeg(out.rgb.ptr<uint8_t>(), out.height, out.width, options.jpeg_quality);
      out.rgb.release();
    }
  }
  return out;
}

// The labels and relative paths of a split's images in stored order, written when the split is
// finished (the same in both versions).
class SplitList {
 public:
  const std::vector<int32_t>& labels() const { return labels_; }
  const std::vector<std::string>& paths() const { return paths_; }

 protected:
  void add(const LabelledFile& file) {
    labels_.push_back(file.label);
    paths_.push_back(file.relative);
  }
  void write(hid_t group) const {
    h5::write_int32s(group, format::kLabels, labels_);
    h5::write_strings(group, format::kPaths, paths_);
  }

 private:
  std::vector<int32_t> labels_;
  std::vector<std::string> paths_;
};

// Version 1: appends images to /<split>/images (extendible, one image per chunk) and keeps the
// labels and paths, which are written when the split is finished.
class SquaresWriter : public SplitList {
 public:
  SquaresWriter(hid_t file, const std::string& name, const PackOptions& options)
      : images_path_("/" + name + "/" + format::kImages),
        height_(options.height),
        width_(options.width) {
    group_ = h5::create_group(file, name);
    const hsize_t dims[4] = {0, hsize(height_), hsize(width_), 3};
    const hsize_t max_dims[4] = {H5S_UNLIMITED, dims[1], dims[2], 3};
    const hsize_t chunk[4] = {1, dims[1], dims[2], 3};
    h5::Handle space(H5Screate_simple(4, dims, max_dims), H5Sclose);
    h5::Handle create(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    H5Pset_chunk(create, 4, chunk);
    if (options.compress) H5Pset_deflate(create, 4);
    images_ = h5::Handle(
        H5Dcreate2(group_, format::kImages, H5T_STD_U8LE, space, H5P_DEFAULT, create, H5P_DEFAULT),
        H5Dclose);
    if (images_.get() < 0) throw Error("HDF5: cannot create " + images_path_);
  }

  void append(const Prepared& image, const LabelledFile& file) {
    const hsize_t index = labels().size();
    if (index >= capacity_) {
      capacity_ = std::max<hsize_t>(1024, capacity_ * 2);
      set_extent(capacity_);
    }
    h5::Handle file_space(H5Dget_space(images_), H5Sclose);
    const hsize_t start[4] = {index, 0, 0, 0};
    const hsize_t count[4] = {1, hsize(height_), hsize(width_), 3};
    H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, count, nullptr);
    h5::Handle memory_space(H5Screate_simple(4, count, nullptr), H5Sclose);
    NXT_H5_CHECK(H5Dwrite(images_, H5T_NATIVE_UINT8, memory_space, file_space, H5P_DEFAULT,
                          image.rgb.ptr<uint8_t>()),
                 "writing ", images_path_, "[", index, "]");
    add(file);
  }

  size_t finish() {
    set_extent(labels().size());
    write(group_);
    return labels().size();
  }

 private:
  static hsize_t hsize(int v) { return static_cast<hsize_t>(v); }
  void set_extent(hsize_t n) {
    const hsize_t dims[4] = {n, hsize(height_), hsize(width_), 3};
    NXT_H5_CHECK(H5Dset_extent(images_, dims), "resizing ", images_path_);
  }

  std::string images_path_;  // for error messages
  int height_, width_;
  h5::Handle group_, images_;
  hsize_t capacity_ = 0;
};

// Version 2: appends each image's stored bytes (raw pixels or a JPEG) to the split's stream
// /<split>/data and its row to /<split>/index. The stream is written one whole chunk at a time
// with H5Dwrite_chunk from a buffer of kDataChunkBytes: records straddle chunk boundaries
// freely, HDF5 never reads back a partial chunk to merge a write into it, and its chunk cache
// holds nothing.
class StreamWriter : public SplitList {
 public:
  StreamWriter(hid_t file, const std::string& name, const PackOptions& /*options*/)
      : data_path_("/" + name + "/" + format::kData),
        index_path_("/" + name + "/" + format::kIndex) {
    group_ = h5::create_group(file, name);
    const hsize_t dims[1] = {0}, max_dims[1] = {H5S_UNLIMITED}, chunk[1] = {kChunk};
    h5::Handle space(H5Screate_simple(1, dims, max_dims), H5Sclose);
    h5::Handle create(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    H5Pset_chunk(create, 1, chunk);
    H5Pset_fill_time(create, H5D_FILL_TIME_NEVER);  // every chunk is written whole
    data_ = h5::Handle(
        H5Dcreate2(group_, format::kData, H5T_STD_U8LE, space, H5P_DEFAULT, create, H5P_DEFAULT),
        H5Dclose);
    if (data_.get() < 0) throw Error("HDF5: cannot create " + data_path_);
    buffer_.reserve(kChunk);
  }

  void append(const Prepared& image, const LabelledFile& file) {
    const bool jpeg = image.encoding == format::Encoding::kJpeg;
    const uint8_t* bytes = jpeg ? image.jpeg.data() : image.rgb.ptr<uint8_t>();
    const size_t size = jpeg ? image.jpeg.size() : image.rgb.total() * 3;
    index_.insert(index_.end(), {static_cast<int64_t>(stream_bytes_), static_cast<int64_t>(size),
                                 image.height, image.width, static_cast<int64_t>(image.encoding)});
    stream_bytes_ += size;
    for (size_t done = 0; done < size;) {
      const size_t take = std::min<size_t>(size - done, kChunk - buffer_.size());
      buffer_.insert(buffer_.end(), bytes + done, bytes + done + take);
      done += take;
      if (buffer_.size() == kChunk) write_chunk();
    }
    if (jpeg) ++jpeg_images_;
    add(file);
  }

  size_t finish() {
    // The exact extent before the last, partial chunk is written: shrinking over a written chunk
    // would make HDF5 rewrite it with fill values past the end.
    NXT_H5_CHECK(H5Dset_extent(data_, &stream_bytes_), "resizing ", data_path_);
    if (!buffer_.empty()) {
      buffer_.resize(kChunk, 0);  // an edge chunk is stored whole
      write_chunk();
    }
    write_index();
    write(group_);
    return labels().size();
  }

  uint64_t stream_bytes() const { return stream_bytes_; }
  size_t jpeg_images() const { return jpeg_images_; }

 private:
  static constexpr hsize_t kChunk = static_cast<hsize_t>(format::kDataChunkBytes);

  void write_chunk() {
    const hsize_t start = chunks_written_ * kChunk;
    if (start + kChunk > capacity_ && start + kChunk <= stream_bytes_) {
      // Room for whole chunks, grown by doubling (finish() sets the exact extent).
      capacity_ = std::max(2 * capacity_, start + kChunk);
      NXT_H5_CHECK(H5Dset_extent(data_, &capacity_), "resizing ", data_path_);
    }
    NXT_H5_CHECK(H5Dwrite_chunk(data_, H5P_DEFAULT, 0, &start, kChunk, buffer_.data()), "writing ",
                 data_path_, " chunk ", chunks_written_);
    ++chunks_written_;
    buffer_.clear();
  }

  void write_index() {
    const hsize_t dims[2] = {labels().size(), format::kIndexColumns};
    h5::Handle space(H5Screate_simple(2, dims, nullptr), H5Sclose);
    h5::Handle index(H5Dcreate2(group_, format::kIndex, H5T_STD_I64LE, space, H5P_DEFAULT,
                                H5P_DEFAULT, H5P_DEFAULT),
                     H5Dclose);
    if (index.get() < 0) throw Error("HDF5: cannot create " + index_path_);
    if (!index_.empty())
      NXT_H5_CHECK(H5Dwrite(index, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, index_.data()),
                   "writing ", index_path_);
    h5::write_attribute(index, format::kAttrIndexColumns, std::string(format::kIndexColumnNames));
  }

  std::string data_path_, index_path_;  // for error messages
  h5::Handle group_, data_;
  std::vector<uint8_t> buffer_;  // the chunk being filled
  hsize_t chunks_written_ = 0, capacity_ = 0, stream_bytes_ = 0;
  std::vector<int64_t> index_;  // kIndexColumns per image, row by row
  size_t jpeg_images_ = 0;
};

// A bar with images/s and ETA on a terminal; a plain line every 10 s otherwise (Slurm logs).
class Progress {
 public:
  Progress(size_t total, bool enabled)
      : total_(total), enabled_(enabled), tty_(isatty(STDERR_FILENO)), start_(Clock::now()) {}
  void update(size_t done) {
    if (!enabled_) return;
    const double elapsed = seconds_since(start_);
    const bool last = done == total_;
    if (!last && seconds_since(last_print_) < (tty_ ? 0.2 : 10.0)) return;
    last_print_ = Clock::now();
    const double rate = done / std::max(elapsed, 1e-9);
    const double eta = rate > 0 ? (total_ - done) / rate : 0;
    if (tty_) {
      const int filled = static_cast<int>(30.0 * done / std::max<size_t>(total_, 1));
      std::fprintf(stderr, "\r[%-30s] %zu/%zu  %.0f img/s  ETA %.0fs ",
                   std::string(filled, '#').c_str(), done, total_, rate, eta);
      if (last) std::fprintf(stderr, "\n");
    } else {
      std::fprintf(stderr, "pack_hdf5: %zu/%zu images, %.0f img/s, ETA %.0fs\n", done, total_, rate,
                   eta);
    }
    std::fflush(stderr);
  }

 private:
  static double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  }
  size_t total_;
  bool enabled_, tty_;
  Clock::time_point start_, last_print_{};
};

// Removes the temp file unless the pack was published.
class TempFileGuard {
 public:
  explicit TempFileGuard(std::string path) : path_(std::move(path)) {}
  ~TempFileGuard() {
    if (!path_.empty()) std::remove(path_.c_str());
  }
  void release() { path_.clear(); }

 private:
  std::string path_;
};

struct Statistics {
  double sum[3] = {0, 0, 0}, sum_squares[3] = {0, 0, 0};
  double pixels = 0;
};

// The state of one pack across its splits: progress, the report, statistics and fingerprint.
struct PackRun {
  const PackOptions& options;
  Progress progress;
  PackReport report;
  Statistics statistics;
  Fnv1a64 fingerprint;
  size_t done = 0;

  // Returns the number of images written (files that decoded).
  size_t write_split(hid_t file, const std::string& name, const std::vector<LabelledFile>& files);

 private:
  template <class Writer>
  size_t write_split_with(hid_t file, const std::string& name,
                          const std::vector<LabelledFile>& files);
  void add_totals(const SquaresWriter&) {}
  void add_totals(const StreamWriter& writer) {
    report.stored_bytes += writer.stream_bytes();
    report.jpeg_images += writer.jpeg_images();
  }
};

size_t PackRun::write_split(hid_t file, const std::string& name,
                            const std::vector<LabelledFile>& files) {
  return fits_longer_side(options) ? write_split_with<StreamWriter>(file, name, files)
                                   : write_split_with<SquaresWriter>(file, name, files);
}

template <class Writer>
size_t PackRun::write_split_with(hid_t file, const std::string& name,
                                 const std::vector<LabelledFile>& files) {
  Writer writer(file, name, options);
  // Statistics come from the train split only: val and test images never leak into them.
  const bool is_train = name == format::kTrainSplit;
  auto consume = [&](size_t i, const Prepared& image) {
    progress.update(++done);
    if (!image.error.empty()) {
      report.skipped.push_back({files[i].relative, image.error});
      return;
    }
    writer.append(image, files[i]);
    if (!is_train) return;
    for (int c = 0; c < 3; ++c) {
      statistics.sum[c] += image.sum[c];
      statistics.sum_squares[c] += image.sum_squares[c];
    }
    statistics.pixels += static_cast<double>(image.height) * image.width;
  };
  const size_t threads = static_cast<size_t>(std::max(1, options.threads));
  // Workers take blocks of images, so that thread hand-offs are rare next to decode work.
  constexpr size_t kBlock = 16;
  const size_t blocks = (files.size() + kBlock - 1) / kBlock;
  ordered_parallel<std::vector<Prepared>>(
      blocks, threads, 4 * threads,
      [&](size_t block) {
        std::vector<Prepared> prepared;
        for (size_t i = block * kBlock; i < std::min(files.size(), (block + 1) * kBlock); ++i)
          prepared.push_back(prepare(files[i], options));
        return prepared;
      },
      [&](size_t block, std::vector<Prepared>&& prepared) {
        for (size_t k = 0; k < prepared.size(); ++k) {
          if (options.cancel && options.cancel->load()) throw Error("interrupted; no file written");
          consume(block * kBlock + k, prepared[k]);
        }
      });
  const size_t written = writer.finish();
  add_totals(writer);
  fingerprint.add(name).add_value(written);
  for (size_t i = 0; i < written; ++i)
    fingerprint.add_value(writer.labels()[i]).add(writer.paths()[i]);
  return written;
}

void write_root_attributes(hid_t file, const PackOptions& options, const PackReport& report,
                           const std::string& fingerprint) {
  const bool fit = fits_longer_side(options);
  h5::write_attribute(file, format::kAttrFormat, std::string(format::kFormatName));
  h5::write_attribute(
      file, format::kAttrVersion,
      std::vector<int64_t>{fit ? format::kFormatVersion : format::kFixedSquaresVersion});
  // Version 2: the bound every stored image fits in.
  h5::write_attribute(file, format::kAttrImageSize,
                      fit ? std::vector<int64_t>{options.max_side, options.max_side}
                          : std::vector<int64_t>{options.height, options.width});
  h5::write_attribute(file, format::kAttrChannels, std::vector<int64_t>{3});
  h5::write_attribute(file, format::kAttrLayout, std::string(format::kLayoutNhwc));
  h5::write_attribute(file, format::kAttrMean, std::vector<double>(report.mean, report.mean + 3));
  h5::write_attribute(file, format::kAttrStd,
                      std::vector<double>(report.stddev, report.stddev + 3));
  h5::write_attribute(file, format::kAttrSeed,
                      std::vector<int64_t>{static_cast<int64_t>(options.seed)});
  h5::write_attribute(file, format::kAttrValFraction,
                      std::vector<double>{options.val_dir.empty() ? options.val_fraction : -1.0});
  h5::write_attribute(file, format::kAttrSource, options.input);
  h5::write_attribute(file, format::kAttrValSource, options.val_dir);
  if (report.has_test) {  // absent without a test split, as in files packed before it existed
    h5::write_attribute(
        file, format::kAttrTestFraction,
        std::vector<double>{options.test_dir.empty() ? options.test_fraction : -1.0});
    h5::write_attribute(file, format::kAttrTestSource, options.test_dir);
  }
  h5::write_attribute(file, format::kAttrResizeMode,
                      fit ? std::string(format::kResizeModeFit) : resize_mode_name(options.resize));
  if (fit) {
    h5::write_attribute(file, format::kAttrMaxSide, std::vector<int64_t>{options.max_side});
    h5::write_attribute(file, format::kAttrStorage,
                        std::string(name_of(options.store, store_mode_names())));
    h5::write_attribute(file, format::kAttrJpegQuality, std::vector<int64_t>{options.jpeg_quality});
    if (options.store == StoreMode::kMixed)
      h5::write_attribute(file, format::kAttrJpegShare, std::vector<double>{options.jpeg_share});
  }
  h5::write_attribute(file, format::kAttrFingerprint, fingerprint);
}

// The dataset's identity before its contents: version 1's square and resize mode (as files
// packed before version 2 have it), or version 2's bound and storage, led by a tag so that no
// version 2 file can share a version 1 file's identity.
void add_layout(Fnv1a64& fingerprint, const PackOptions& options) {
  if (!fits_longer_side(options)) {
    fingerprint.add_value(options.height)
        .add_value(options.width)
        .add(resize_mode_name(options.resize));
    return;
  }
  fingerprint.add(std::string(format::kResizeModeFit))
      .add_value(options.max_side)
      .add(name_of(options.store, store_mode_names()))
      .add_value(options.jpeg_quality);
  if (options.store == StoreMode::kMixed) fingerprint.add_value(options.jpeg_share);
}

void write_skipped(hid_t file, const std::vector<SkippedFile>& skipped) {
  h5::Handle group = h5::create_group(file, format::kSkipped);
  std::vector<std::string> paths, reasons;
  for (const auto& s : skipped) paths.push_back(s.relative), reasons.push_back(s.reason);
  h5::write_strings(group, format::kPaths, paths);
  h5::write_strings(group, format::kSkippedReasons, reasons);
}

// The files of a held-out folder named by `flag` (--val-dir, --test-dir), which must have the
// input folder's classes; its files without an image extension join `skipped`.
std::vector<LabelledFile> held_out_files(const char* flag, const std::string& dir,
                                         const ImageFolder& input,
                                         std::vector<SkippedFile>& skipped) {
  const ImageFolder held_out = scan_image_folder(dir);
  if (held_out.classes != input.classes)
    throw Error(std::string(flag) + " '" + dir + "' has other classes than '" + input.root + "'");
  skipped.insert(skipped.end(), held_out.skipped.begin(), held_out.skipped.end());
  return held_out.files;
}

StratifiedSplit split_for(const PackOptions& options, const ImageFolder& folder,
                          std::vector<SkippedFile>& skipped) {
  // A separate val folder takes no val share from the input; --test-fraction still cuts from it.
  const double val_fraction = options.val_dir.empty() ? options.val_fraction : 0.0;
  StratifiedSplit split =
      stratified_split(folder.files, val_fraction, options.test_fraction, options.seed);
  if (!options.val_dir.empty())
    split.val = held_out_files("--val-dir", options.val_dir, folder, skipped);
  if (!options.test_dir.empty())
    split.test = held_out_files("--test-dir", options.test_dir, folder, skipped);
  return split;
}

// The flag combinations and ranges that cannot give a usable split; errors name the flags.
void check_split_options(const PackOptions& options) {
  NXT_CHECK(options.val_fraction >= 0 && options.val_fraction < 1,
            "--val-fraction must be in [0, 1), got ", options.val_fraction);
  NXT_CHECK(options.test_fraction >= 0 && options.test_fraction < 1,
            "--test-fraction must be in [0, 1), got ", options.test_fraction);
  std::ostringstream problem;
  if (options.test_fraction > 0 && !options.test_dir.empty())
    problem << "--test-fraction " << options.test_fraction << " and --test-dir '"
            << options.test_dir << "' both ask for a test split: give one of them";
  else if (options.val_dir.empty() && options.val_fraction + options.test_fraction >= 1)
    problem << "--val-fraction " << options.val_fraction << " + --test-fraction "
            << options.test_fraction << " must be < 1: no training images would be left";
  if (!problem.str().empty()) throw Error(problem.str());
}

// The format options that cannot go together or are out of range; errors name the flags.
void check_format_options(const PackOptions& options) {
  // The reader keeps a record's height and width in 16 bits and its byte count in 32.
  constexpr int kLargestSide = 16384;
  NXT_CHECK(options.max_side >= 0 && options.max_side <= kLargestSide, "--max-side must be in [1, ",
            kLargestSide, "], got ", options.max_side);
  NXT_CHECK(options.jpeg_quality >= 1 && options.jpeg_quality <= 100,
            "--jpeg-quality must be in [1, 100], got ", options.jpeg_quality);
  NXT_CHECK(options.jpeg_share >= 0 && options.jpeg_share <= 1,
            "--jpeg-share must be in [0, 1], got ", options.jpeg_share);
  if (!fits_longer_side(options) && options.store != StoreMode::kRaw)
    throw Error(std::string("--store ") + name_of(options.store, store_mode_names()) +
                " needs --max-side (format version 2); --size writes raw squares");
  if (fits_longer_side(options) && options.compress)
    throw Error(
        "--compress does not go with --max-side: JPEG records are compressed already, and raw "
        "ones are read with pread, which gzip would rule out");
}

}  // namespace

const EnumNames<StoreMode>& store_mode_names() {
  static const EnumNames<StoreMode> names = {
      {StoreMode::kRaw, "raw"}, {StoreMode::kJpeg, "jpeg"}, {StoreMode::kMixed, "mixed"}};
  return names;
}

format::Encoding encoding_for(const PackOptions& options, const std::string& relative) {
  switch (options.store) {
    case StoreMode::kRaw:
      return format::Encoding::kRaw;
    case StoreMode::kJpeg:
      return format::Encoding::kJpeg;
    case StoreMode::kMixed:
      break;
  }
  // A uniform draw in [0, 1) from the seed and the path alone.
  const uint64_t draw = mix_seed({options.seed, Fnv1a64().add(relative).value()});
  const double uniform = static_cast<double>(draw >> 11) * (1.0 / 9007199254740992.0);
  return uniform < options.jpeg_share ? format::Encoding::kJpeg : format::Encoding::kRaw;
}

PackReport pack_image_folder(const PackOptions& options) {
  const auto start = Clock::now();
  NXT_CHECK(options.height >= 1 && options.width >= 1, "--size must be positive");
  check_format_options(options);
  check_split_options(options);
  const ImageFolder folder = scan_image_folder(options.input);
  std::vector<SkippedFile> skipped = folder.skipped;
  const StratifiedSplit split = split_for(options, folder, skipped);
  if (split.train.empty()) throw Error("no training images found under '" + options.input + "'");
  const size_t total = split.train.size() + split.val.size() + split.test.size();
  PackRun run{options, Progress(total, options.progress), {}, {}, {}};
  PackReport& report = run.report;
  report.classes = folder.classes;
  report.has_test = options.test_fraction > 0 || !options.test_dir.empty();
  report.skipped = std::move(skipped);

  const std::string temp = temp_path_for(options.output);
  TempFileGuard guard(temp);
  {
    h5::Handle file = h5::create_file(temp);
    add_layout(run.fingerprint, options);
    for (const auto& name : folder.classes) run.fingerprint.add(name);
    report.train_images = run.write_split(file, format::kTrainSplit, split.train);
    report.val_images = run.write_split(file, format::kValSplit, split.val);
    if (report.has_test) report.test_images = run.write_split(file, format::kTestSplit, split.test);
    if (report.train_images == 0)
      throw Error("nothing usable: all " + std::to_string(split.train.size()) +
                  " training images failed to decode");
    if (options.strict && !report.skipped.empty())
      throw Error("--strict: " + std::to_string(report.skipped.size()) +
                  " file(s) skipped (first: '" + report.skipped[0].relative +
                  "': " + report.skipped[0].reason + "); no file written");
    const Statistics& statistics = run.statistics;
    for (int c = 0; c < 3; ++c) {
      report.mean[c] = statistics.sum[c] / statistics.pixels;
      report.stddev[c] = std::sqrt(std::max(
          0.0, statistics.sum_squares[c] / statistics.pixels - report.mean[c] * report.mean[c]));
    }
    h5::write_strings(file, format::kClasses, folder.classes);
    write_skipped(file, report.skipped);
    write_root_attributes(file, options, report, run.fingerprint.hex());
    if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) throw Error("HDF5: cannot flush '" + temp + "'");
  }  // closed here, before the publish
  publish_temp_file(temp, options.output);
  guard.release();
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return std::move(report);
}

}  // namespace nxt
