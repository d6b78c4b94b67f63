// Reading an ImageFolder tree (root/<class>/<image>, classes sorted as torchvision sorts them)
// and the stratified, seeded train/val split. Pure functions of the folder and the seed.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nxt {

struct LabelledFile {
  std::string path;      // as opened
  std::string relative;  // to the folder root, stored in the dataset for tracing
  int32_t label = 0;
};

struct SkippedFile {
  std::string relative;
  std::string reason;
};

struct ImageFolder {
  std::string root;
  std::vector<std::string> classes;
  std::vector<LabelledFile> files;   // by class, then path
  std::vector<SkippedFile> skipped;  // files without an image extension
};

// Errors: a missing root, a root with no class folders, a class folder with no files.
ImageFolder scan_image_folder(const std::string& root);

struct TrainValSplit {
  std::vector<LabelledFile> train, val;
};

// Per class, round(n * val_fraction) files go to val, chosen by a seeded shuffle; both lists
// keep class-then-path order.
TrainValSplit stratified_split(const std::vector<LabelledFile>& files, double val_fraction,
                               uint64_t seed);

}  // namespace nxt
