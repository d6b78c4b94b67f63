// Implements the dataset report and the read-back check, for both format versions.
#include "inspect.h"

#include <iomanip>
#include <memory>
#include <vector>

#include "common/check.h"
#include "data/dataset_format.h"
#include "data/image_reader.h"
#include "data/packed_dataset.h"

namespace nxt {
namespace {

// Version 2's storage facts of one split: stream size, bytes per image, the JPEG share.
void print_stream(const std::string& split, const SplitData& data, std::ostream& out) {
  uint64_t jpeg = 0;
  for (const StoredImage& record : data.index) jpeg += record.encoding == format::Encoding::kJpeg;
  const double images = static_cast<double>(std::max<int64_t>(data.size(), 1));
  out << std::setprecision(1) << split << " stream: " << data.stream_bytes / 1e6 << " MB, "
      << data.stream_bytes / 1e3 / images << " KB per image, " << 100.0 * jpeg / images
      << "% as JPEG (" << jpeg << " of " << data.size() << ")\n"
      << std::setprecision(4);
}

// Version 2's packer invariants beyond what the reader validates on open (every row inside the
// stream, sizes and encodings valid): the records lie back to back in index order and fill the
// stream exactly. Returns the number of problems, each printed.
int check_stream(const std::string& split, const SplitData& data, std::ostream& out) {
  int problems = 0;
  uint64_t end = 0;
  for (size_t i = 0; i < data.index.size(); ++i) {
    if (data.index[i].offset != end && ++problems <= 5)
      out << "PROBLEM: /" << split << "/" << format::kIndex << " row " << i << " starts at "
          << data.index[i].offset << ", not where row " << i - 1 << " ends (" << end << ")\n";
    end = data.index[i].offset + data.index[i].bytes;
  }
  if (end != data.stream_bytes) {
    out << "PROBLEM: /" << split << "/" << format::kData << " has " << data.stream_bytes
        << " bytes but its records end at " << end << "\n";
    ++problems;
  }
  return problems;
}

// Reads (version 2: and decodes) every image of a split; returns the number that failed.
int read_back(const PackedDataset& dataset, const std::string& split, std::ostream& out) {
  int problems = 0;
  const int64_t n = dataset.split(split).size();
  std::vector<uint8_t> pixels;
  std::unique_ptr<ImageReader> reader;
  if (dataset.version() != format::kFixedSquaresVersion)
    reader = std::make_unique<ImageReader>(dataset, split);
  for (int64_t i = 0; i < n; ++i) {
    try {
      if (reader) {
        pixels.resize(static_cast<size_t>(reader->shape(i).bytes()));
        reader->read(i, pixels.data());  // a JPEG is checked against its index row and decoded
      } else {
        pixels.resize(static_cast<size_t>(dataset.image_bytes()));
        dataset.read_image(split, i, pixels.data());
      }
    } catch (const Error& e) {
      out << "PROBLEM: " << e.what() << "\n";
      ++problems;
    }
  }
  return problems;
}

}  // namespace

int inspect_dataset(const std::string& path, std::ostream& out) {
  const PackedDataset dataset(path);  // validates format, shapes and label range
  const bool fixed_squares = dataset.version() == format::kFixedSquaresVersion;
  out << "file:        " << path << "\n"
      << "format:      " << dataset.attribute(format::kAttrFormat) << " version "
      << dataset.version() << ", resize " << dataset.attribute(format::kAttrResizeMode)
      << ", source " << dataset.attribute(format::kAttrSource) << "\n";
  if (fixed_squares) {
    out << "image size:  " << dataset.height() << "x" << dataset.width() << " RGB, "
        << format::kLayoutNhwc << " uint8\n";
  } else {
    out << "image size:  longer side <= " << dataset.max_side() << ", aspect kept, RGB\n"
        << "storage:     " << dataset.storage();
    const h5::Handle file = h5::open_file_readonly(path);  // the attributes PackedDataset skips
    if (dataset.storage() != "raw")
      out << ", JPEG quality " << h5::read_int_attribute(file, format::kAttrJpegQuality).at(0);
    if (h5::has_attribute(file, format::kAttrJpegShare))
      out << ", JPEG share asked " << h5::read_double_attribute(file, format::kAttrJpegShare).at(0);
    out << "\n";
  }
  out << std::fixed << std::setprecision(4) << "mean:        " << dataset.mean()[0] << " "
      << dataset.mean()[1] << " " << dataset.mean()[2] << "\n"
      << "std:         " << dataset.stddev()[0] << " " << dataset.stddev()[1] << " "
      << dataset.stddev()[2] << "\n"
      << "fingerprint: " << dataset.fingerprint() << "\n";
  // The optional test split gets a column only where the file has one.
  std::vector<std::string> splits;
  for (const char* split : format::kSplits)
    if (dataset.has_split(split)) splits.push_back(split);
  out << std::left << std::setw(24) << "class";
  for (const std::string& split : splits) out << std::right << std::setw(10) << split;
  out << "\n";
  for (int64_t c = 0; c < dataset.num_classes(); ++c) {
    out << std::left << std::setw(24) << dataset.classes()[c];
    for (const std::string& split : splits) {
      int64_t count = 0;
      for (int32_t label : dataset.split(split).labels) count += label == c;
      out << std::right << std::setw(10) << count;
    }
    out << "\n";
  }
  int problems = 0;
  for (const std::string& split : splits) {
    const int64_t n = dataset.split(split).size();
    if (static_cast<int64_t>(dataset.paths(split).size()) != n) {
      out << "PROBLEM: /" << split << "/" << format::kPaths << " does not have " << n
          << " entries\n";
      ++problems;
    }
    if (!fixed_squares) {
      print_stream(split, dataset.split(split), out);
      problems += check_stream(split, dataset.split(split), out);
    }
    problems += read_back(dataset, split, out);
    out << split << ": " << n << " images read back\n";
  }
  out << (problems == 0 ? "OK: labels in range, every image readable\n"
                        : std::to_string(problems) + " problem(s)\n");
  return problems;
}

}  // namespace nxt
