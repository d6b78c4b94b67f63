// Implements ImageFolder scanning and the stratified train/val/test split.
#include "image_folder.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "common/check.h"
#include "common/hash.h"
#include "data/image_prep.h"

namespace nxt {
namespace fs = std::filesystem;

ImageFolder scan_image_folder(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw Error("input folder '" + root + "' does not exist");
  ImageFolder folder;
  folder.root = root;
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.is_directory()) folder.classes.push_back(entry.path().filename().string());
  std::sort(folder.classes.begin(), folder.classes.end());
  if (folder.classes.empty())
    throw Error("input folder '" + root +
                "' has no class sub-folders (expected root/<class>/<image>)");

  for (size_t label = 0; label < folder.classes.size(); ++label) {
    const fs::path class_dir = fs::path(root) / folder.classes[label];
    std::vector<fs::path> found;
    for (const auto& entry : fs::recursive_directory_iterator(class_dir))
      if (entry.is_regular_file()) found.push_back(entry.path());
    if (found.empty())
      throw Error("class folder '" + class_dir.string() + "' is empty: remove it or add images");
    std::sort(found.begin(), found.end());
    for (const fs::path& file : found) {
      const std::string relative = fs::relative(file, root).string();
      if (has_image_extension(file.string())) {
        folder.files.push_back({file.string(), relative, static_cast<int32_t>(label)});
      } else {
        folder.skipped.push_back({relative, "not an image file extension"});
      }
    }
  }
  return folder;
}

StratifiedSplit stratified_split(const std::vector<LabelledFile>& files, double val_fraction,
                                 double test_fraction, uint64_t seed) {
  enum class Part : uint8_t { kTrain, kVal, kTest };  // indices into `lists` below
  std::map<int32_t, std::vector<size_t>> by_class;
  for (size_t i = 0; i < files.size(); ++i) by_class[files[i].label].push_back(i);
  std::vector<Part> part_of(files.size(), Part::kTrain);
  for (auto& [label, indices] : by_class) {
    SplitMix64 rng(seed * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(label));
    seeded_shuffle(indices, rng);
    const size_t n = indices.size();
    auto share = [n](double fraction) { return static_cast<size_t>(std::lround(n * fraction)); };
    const size_t val_count = std::min(n, share(val_fraction));
    // Each rounding adds at most 1/2, so with fractions summing below 1 this never clamps; the
    // min keeps the indices in range whatever the caller passed.
    const size_t test_end = std::min(n, val_count + share(test_fraction));
    for (size_t k = 0; k < val_count; ++k) part_of[indices[k]] = Part::kVal;
    for (size_t k = val_count; k < test_end; ++k) part_of[indices[k]] = Part::kTest;
  }
  StratifiedSplit split;
  std::vector<LabelledFile>* const lists[] = {&split.train, &split.val, &split.test};
  for (size_t i = 0; i < files.size(); ++i)
    lists[static_cast<size_t>(part_of[i])]->push_back(files[i]);
  return split;
}

}  // namespace nxt
