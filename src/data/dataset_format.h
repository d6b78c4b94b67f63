// The names and version of the packed HDF5 dataset format (docs/hdf5-format.md). The packer
// writes them and the reader checks them; neither spells a name anywhere else.
#pragma once

namespace nxt::format {

inline constexpr const char* kFormatName = "nxt-images";
// Version 1: every image a raw uint8 square (/<split>/images [N, H, W, 3], pack_hdf5 --size).
// Version 2: each image at its own aspect ratio, longer side <= max_side, stored raw or as JPEG
// in one byte stream per split (/<split>/data) with an index (/<split>/index); pack_hdf5
// --max-side. Readers read both; the packer writes 1 for --size and 2 for --max-side.
inline constexpr int kFormatVersion = 2;
inline constexpr int kFixedSquaresVersion = 1;

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

// Version 2 only.
inline constexpr const char* kAttrMaxSide = "max_side";          // int64[1]: longest stored side
inline constexpr const char* kAttrStorage = "storage";           // string: raw | jpeg | mixed
inline constexpr const char* kAttrJpegQuality = "jpeg_quality";  // int64[1]
inline constexpr const char* kAttrJpegShare = "jpeg_share";      // float64[1]: mixed's JPEG share
inline constexpr const char* kResizeModeFit = "fit";  // version 2's resize_mode: aspect kept

inline constexpr const char* kLayoutNhwc = "NHWC";

// Datasets.
inline constexpr const char* kClasses = "classes";
inline constexpr const char* kImages = "images";  // under each split group
inline constexpr const char* kLabels = "labels";
inline constexpr const char* kPaths = "paths";
// Version 2, under each split group: the stored bytes of every image back to back (uint8 [B],
// chunked kDataChunkBytes, no filters), and per image one row of kIndexColumns (int64 [N, 5]).
inline constexpr const char* kData = "data";
inline constexpr const char* kIndex = "index";
inline constexpr int kIndexColumns = 5;
inline constexpr const char* kAttrIndexColumns = "columns";  // on /<split>/index, for h5py users
inline constexpr const char* kIndexColumnNames = "offset,bytes,height,width,encoding";
enum IndexColumn { kColOffset = 0, kColBytes = 1, kColHeight = 2, kColWidth = 3, kColEncoding = 4 };
inline constexpr long long kDataChunkBytes = 4ll << 20;
// The encoding column: how an image's bytes hold its pixels.
enum class Encoding : int64_t {
  kRaw = 0,   // height * width * 3 bytes, HWC RGB
  kJpeg = 1,  // a baseline JPEG (libjpeg-turbo), 3 components
};
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
