// The names and version of the packed HDF5 dataset format (docs/hdf5-format.md). The packer
// writes them and the reader checks them; neither spells a name anywhere else.
#pragma once

namespace nxt::format {

inline constexpr const char* kFormatName = "nxt-images";
inline constexpr int kFormatVersion = 1;

// Root attributes.
inline constexpr const char* kAttrFormat = "format";
inline constexpr const char* kAttrVersion = "format_version";
inline constexpr const char* kAttrImageSize = "image_size";  // [H, W]
inline constexpr const char* kAttrChannels = "channels";
inline constexpr const char* kAttrLayout = "layout";  // kLayoutNhwc, the only layout
inline constexpr const char* kAttrMean = "mean";      // per channel, RGB, pixels in [0, 1]
inline constexpr const char* kAttrStd = "std";
inline constexpr const char* kAttrSeed = "seed";
inline constexpr const char* kAttrValFraction = "val_fraction";
inline constexpr const char* kAttrSource = "source";
inline constexpr const char* kAttrResizeMode = "resize_mode";
inline constexpr const char* kAttrFingerprint = "fingerprint";
inline constexpr const char* kAttrValSource = "val_source";  // --val-dir, when given
// Only in files with a test split: its share per class (-1 with --test-dir) and --test-dir.
inline constexpr const char* kAttrTestFraction = "test_fraction";
inline constexpr const char* kAttrTestSource = "test_source";

inline constexpr const char* kLayoutNhwc = "NHWC";

// Datasets.
inline constexpr const char* kClasses = "classes";
inline constexpr const char* kImages = "images";  // under each split group
inline constexpr const char* kLabels = "labels";
inline constexpr const char* kPaths = "paths";
// Files the packer could not decode: group kSkipped holds kPaths and kSkippedReasons.
inline constexpr const char* kSkipped = "skipped";
inline constexpr const char* kSkippedReasons = "reasons";

// Split groups. "test" is optional (pack_hdf5 --test-fraction or --test-dir); readers must not
// require it.
inline constexpr const char* kTrainSplit = "train";
inline constexpr const char* kValSplit = "val";
inline constexpr const char* kTestSplit = "test";
inline constexpr const char* kSplits[] = {kTrainSplit, kValSplit, kTestSplit};

}  // namespace nxt::format
