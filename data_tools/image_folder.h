// Reading an ImageFolder tree (root/<class>/<image>, classes sorted as torchvision sorts them)
// and the stratified, seeded train/val/test split. Pure functions of the folder and the seed.
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

struct StratifiedSplit {
  std::vector<LabelledFile> train, val, test;
};

// Per class of n files, one seeded shuffle: its first round(n * val_fraction) files go to val,
// the next round(n * test_fraction) to test, the rest to train. Val is drawn first, so adding a
// test share never changes val for a seed. All lists keep class-then-path order. Needs
// val_fraction + test_fraction < 1 (checked by the caller, which names its flags).
StratifiedSplit stratified_split(const std::vector<LabelledFile>& files, double val_fraction,
                                 double test_fraction, uint64_t seed);

}  // namespace nxt
