// Implements the dataset report and the read-back check.
#include "inspect.h"

#include <iomanip>
#include <vector>

#include "common/check.h"
#include "data/dataset_format.h"
#include "data/packed_dataset.h"

namespace nxt {

int inspect_dataset(const std::string& path, std::ostream& out) {
  const PackedDataset dataset(path);  // validates format, shapes and label range
  out << "file:        " << path << "\n"
      << "format:      " << dataset.attribute(format::kAttrFormat) << ", resize "
      << dataset.attribute(format::kAttrResizeMode) << ", source "
      << dataset.attribute(format::kAttrSource) << "\n"
      << "image size:  " << dataset.height() << "x" << dataset.width() << " RGB, "
      << format::kLayoutNhwc << " uint8\n"
      << std::fixed << std::setprecision(4) << "mean:        " << dataset.mean()[0] << " "
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
  std::vector<uint8_t> pixels(dataset.image_bytes());
  for (const std::string& split : splits) {
    const int64_t n = dataset.split(split).size();
    if (static_cast<int64_t>(dataset.paths(split).size()) != n) {
      out << "PROBLEM: /" << split << "/" << format::kPaths << " does not have " << n
          << " entries\n";
      ++problems;
    }
    for (int64_t i = 0; i < n; ++i) {
      try {
        dataset.read_image(split, i, pixels.data());
      } catch (const Error& e) {
        out << "PROBLEM: " << e.what() << "\n";
        ++problems;
      }
    }
    out << split << ": " << n << " images read back\n";
  }
  out << (problems == 0 ? "OK: labels in range, every image readable\n"
                        : std::to_string(problems) + " problem(s)\n");
  return problems;
}

}  // namespace nxt
