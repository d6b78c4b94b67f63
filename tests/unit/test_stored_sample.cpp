// Tests data/stored_sample.h, the preparation of version 2 records, on real packed files made
// here (photo-like JPEGs of many aspect ratios, packed raw and JPEG by nxt_pack_hdf5 --max-side):
// the Resize / CenterCrop geometry and pixels against torchvision's own functions (run in the
// venv's python on the same bytes), training's window against random_resized_window and the
// version 1 path, the DCT-scaled decode against the full one, and determinism across threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <thread>
#include <vector>

#include "aspect_fixture.h"
#include "common/hash.h"
#include "data/augment.h"
#include "data/image_reader.h"
#include "data/jpeg.h"
#include "data/packed_dataset.h"
#include "data/stored_sample.h"
#include "test_support.h"

namespace nxt {
namespace {

namespace fs = std::filesystem;
using Image = std::vector<uint8_t>;
using testing_support::error_of;

using testing_support::read_bytes;
using testing_support::write_bytes;

struct Difference {
  int max_abs = 0;
  double mean_abs = 0;
};

Difference compare(const Image& a, const Image& b) {
  EXPECT_EQ(a.size(), b.size());
  Difference d;
  double sum = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    const int diff = std::abs(int(a[i]) - int(b[i]));
    d.max_abs = std::max(d.max_abs, diff);
    sum += diff;
  }
  d.mean_abs = sum / static_cast<double>(std::max<size_t>(a.size(), 1));
  return d;
}

std::string text(ImageShape shape) {
  return std::to_string(shape.height) + "x" + std::to_string(shape.width);
}

// Runs tests/unit/stored_sample_reference.py with `arguments`; fails the test when it fails.
void run_reference(const std::string& arguments) {
  ASSERT_TRUE(fs::exists(NXT_PYTHON)) << NXT_PYTHON << " (python3 with torchvision) missing";
  const std::string command = std::string(NXT_PYTHON) + " " + NXT_SOURCE_DIR +
                              "/tests/unit/stored_sample_reference.py " + arguments;
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

// Shapes with odd sides, square ones, extreme aspects, enlargements, and the torchvision
// rounding cases: int() truncation of the longer side, and centre offsets that are ties
// ((H - h) / 2 = k + 0.5, which Python's round takes to the even k).
TEST(StoredSampleGeometry, ResizedShapeAndCenterCropMatchTorchvision) {
  struct ResizeCase {
    ImageShape in;
    int64_t shorter;
  };
  const std::vector<ResizeCase> resizes = {
      {{375, 500}, 256}, {{500, 375}, 256}, {{333, 500}, 256}, {{500, 333}, 256},
      {{7, 5}, 3},       {{5, 7}, 3},       {{10, 10}, 4},     {{1, 1000}, 3},
      {{401, 299}, 224}, {{299, 401}, 224}, {{100, 150}, 224}, {{64, 96}, 64},
      {{97, 131}, 37},   {{131, 97}, 37},   {{480, 640}, 256}, {{3, 7}, 6}};
  struct CropCase {
    ImageShape in, crop;
  };
  const std::vector<CropCase> crops = {
      {{256, 341}, {224, 224}}, {{7, 9}, {2, 2}},        {{11, 13}, {4, 4}},   {{10, 10}, {3, 3}},
      {{9, 9}, {4, 4}},         {{5, 5}, {5, 5}},        {{37, 49}, {32, 32}}, {{49, 37}, {32, 32}},
      {{12, 17}, {7, 10}},      {{256, 384}, {224, 224}}};
  testing_support::TempDir dir("stored_geometry");
  {
    std::ofstream cases(dir.path("cases.txt"));
    for (const ResizeCase& c : resizes)
      cases << "resize " << c.in.height << " " << c.in.width << " " << c.shorter << "\n";
    for (const CropCase& c : crops)
      cases << "crop " << c.in.height << " " << c.in.width << " " << c.crop.height << " "
            << c.crop.width << "\n";
  }
  run_reference("geometry " + dir.path("cases.txt") + " " + dir.path("out.txt"));
  std::ifstream reference(dir.path("out.txt"));
  int ties = 0;
  for (const ResizeCase& c : resizes) {
    int64_t height = -1, width = -1;
    reference >> height >> width;
    const ImageShape ours = resized_to_shorter_side(c.in, c.shorter);
    EXPECT_EQ(text(ours), text({height, width})) << text(c.in) << " to shorter " << c.shorter;
  }
  for (const CropCase& c : crops) {
    int64_t top = -1, left = -1;
    reference >> top >> left;
    const CropWindow ours = center_crop_window(c.in, c.crop);
    EXPECT_EQ(std::vector<int64_t>({ours.top, ours.left, ours.height, ours.width}),
              std::vector<int64_t>({top, left, c.crop.height, c.crop.width}))
        << text(c.crop) << " in " << text(c.in);
    ties += (c.in.height - c.crop.height) % 2 + (c.in.width - c.crop.width) % 2;
  }
  EXPECT_TRUE(reference.good()) << "the reference wrote fewer lines than there are cases";
  EXPECT_GE(ties, 8) << "the table should hold rounding ties";
}

TEST(StoredSampleGeometry, ErrorsSayWhatDoesNotFit) {
  EXPECT_NE(error_of([] {
              center_crop_window({20, 30}, {24, 24});
            }).find("a 24x24 centre crop does not fit in a 20x30 image"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              resized_to_shorter_side({20, 30}, 0);
            }).find("cannot resize a 20x30 image to a shorter side of 0"),
            std::string::npos);
}

// A photo-like image that went through JPEG (as the packer's records do).
Image jpeg_photo(ImageShape shape, uint64_t seed) {
  const Image scene = testing_support::aspect_scene(int(shape.height), int(shape.width), 1, seed);
  const std::vector<uint8_t> jpeg =
      encode_jpeg(scene.data(), int(shape.height), int(shape.width), 90);
  Image pixels;
  decode_jpeg(jpeg.data(), jpeg.size(), 1, pixels, "jpeg_photo");
  return pixels;
}

// Resize everything, then crop: what torchvision does, with our resampling. The reference of the
// window-only resize.
Image resize_all_then_crop(const Image& in, ImageShape shape, int64_t shorter, ImageShape crop) {
  const ImageShape resized = resized_to_shorter_side(shape, shorter);
  Image all(static_cast<size_t>(resized.bytes())), out(static_cast<size_t>(crop.bytes()));
  resize_window(in.data(), shape, {0, 0, shape.height, shape.width}, all.data(), resized);
  const CropWindow w = center_crop_window(resized, crop);
  resize_window(all.data(), resized, w, out.data(), crop);  // same size: a copy
  return out;
}

// Measured (this image, 113x150 landscape): against torchvision's tensor Resize(antialias=True)
// + CenterCrop, shrinking cases differ by a mean of 0.7-1.9 levels and at most 12-25: OpenCV's
// area averaging is a box filter, torchvision's antialias a triangle filter twice as wide, so
// they disagree on the fine stripes and edges; enlarging (both bilinear, half-pixel centres)
// differs by a mean of 0.13, at most 1 (OpenCV's fixed-point weights); the same size is the
// same image. A DCT half-scale decode as the input (a JPEG record's evaluation) adds the
// decoder's own filtering: a mean of 2.0-2.8, at most 56. The bounds below have some room over
// those figures; a crop off by a pixel or two, or a wrong size, breaks them.
TEST(StoredSampleResize, ResizeShorterAndCenterCropMatchesTorchvision) {
  const ImageShape shape{113, 150};
  const Image photo = jpeg_photo(shape, 21);
  struct Case {
    int64_t shorter;
    ImageShape crop;
    double max_mean;
    int max_abs;
  };
  const std::vector<Case> cases = {{64, {56, 56}, 1.5, 40},   {100, {88, 88}, 1.5, 40},
                                   {37, {32, 32}, 2.5, 40},   {48, {40, 56}, 2.5, 40},
                                   {113, {100, 100}, 0.0, 0}, {200, {176, 176}, 0.3, 1},
                                   {150, {150, 190}, 0.3, 1}};
  testing_support::TempDir dir("stored_resize");
  write_bytes(dir.path("photo.raw"), photo);
  {
    std::ofstream list(dir.path("cases.txt"));
    for (const Case& c : cases)
      list << c.shorter << " " << c.crop.height << " " << c.crop.width << "\n";
  }
  run_reference("resize " + dir.path("photo.raw") + " 113 150 " + dir.path("cases.txt") + " " +
                dir.dir().string());
  // The same photo at half scale through the DCT: the input of a JPEG record's evaluation.
  const std::vector<uint8_t> jpeg = [&] {
    const Image scene = testing_support::aspect_scene(113, 150, 1, 21);
    return encode_jpeg(scene.data(), 113, 150, 90);
  }();
  Image half;
  const JpegHeader half_shape = decode_jpeg(jpeg.data(), jpeg.size(), 2, half, "photo");
  ASSERT_EQ(text({half_shape.height, half_shape.width}), "57x75");
  std::vector<uint8_t> scratch;
  for (size_t k = 0; k < cases.size(); ++k) {
    const Case& c = cases[k];
    const std::string what = "shorter " + std::to_string(c.shorter) + ", crop " + text(c.crop);
    const Image theirs = read_bytes(dir.path("case_" + std::to_string(k) + ".raw"));
    Image ours(static_cast<size_t>(c.crop.bytes()));
    resize_shorter_and_center_crop(photo.data(), shape, shape, c.shorter, ours.data(), c.crop,
                                   scratch);
    const Difference d = compare(ours, theirs);
    EXPECT_LE(d.mean_abs, c.max_mean) << what << " (max " << d.max_abs << ")";
    EXPECT_LE(d.max_abs, c.max_abs) << what << " (mean " << d.mean_abs << ")";
    // The window-only resize against resizing everything: the crop's edges rounded to whole
    // input pixels move the sampling grid by under half an output pixel. Measured: a mean of
    // 0.13-1.5 levels, at most 22, when shrinking (about as far as either is from torchvision);
    // enlarging resizes everything, so nothing.
    const Difference window = compare(ours, resize_all_then_crop(photo, shape, c.shorter, c.crop));
    EXPECT_LE(window.mean_abs, 2.0) << what << " (max " << window.max_abs << ")";
    EXPECT_LE(window.max_abs, 40) << what;
    if (c.shorter > 57) continue;  // the half-scale input has fewer pixels than the output needs
    Image from_half(ours.size());
    resize_shorter_and_center_crop(half.data(), {57, 75}, shape, c.shorter, from_half.data(),
                                   c.crop, scratch);
    const Difference h = compare(from_half, theirs);
    EXPECT_LE(h.mean_abs, c.max_mean + 1.5) << what << " from the half-scale decode";
    EXPECT_LE(h.max_abs, c.max_abs + 30) << what << " from the half-scale decode";
  }
}

class StoredSampleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing_support::TempDir("stored_sample");
    testing_support::make_aspect_folder(dir_->path("images"));
    for (const char* store : {"raw", "jpeg"})
      testing_support::pack_aspect(dir_->path("images"), file(store), store);
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string file(const std::string& store) { return dir_->path(store + ".h5"); }
  static Image full_image(const ImageReader& reader, int64_t index) {
    Image pixels(static_cast<size_t>(reader.shape(index).bytes()));
    reader.read(index, pixels.data());
    return pixels;
  }
  static testing_support::TempDir* dir_;
};
testing_support::TempDir* StoredSampleTest::dir_ = nullptr;

TEST_F(StoredSampleTest, TheFixtureHoldsEveryAspectAndBothEncodings) {
  for (const char* store : {"raw", "jpeg"}) {
    const PackedDataset dataset(file(store));
    const ImageReader reader(dataset, "train");
    ASSERT_FALSE(reader.fixed_shape()) << store;
    int portrait = 0, landscape = 0, under_max = 0;
    for (int64_t i = 0; i < reader.size(); ++i) {
      const StoredImage record = reader.stored(i);
      EXPECT_EQ(record.encoding == format::Encoding::kJpeg, std::string(store) == "jpeg");
      EXPECT_LE(std::max(record.height, record.width), 96);
      portrait += record.height > record.width;
      landscape += record.width > record.height;
      under_max += std::max(record.height, record.width) < 96;
    }
    EXPECT_GE(portrait, 5) << store;
    EXPECT_GE(landscape, 5) << store;
    EXPECT_GE(under_max, 2) << store;
  }
}

AugmentOptions random_resized(bool everything) {
  AugmentOptions options;
  options.crop = CropMode::kRandomResized;
  options.hflip = true;
  options.min_crop_scale = 0.08;
  if (everything) {
    options.auto_augment = AutoAugment::kTrivial;
    options.color_jitter = 0.4;
  }
  return options;
}

// A raw record's training sample is version 1's augment_for_training on the stored pixels,
// bit for bit: the same window (random_resized_window on the stored shape), the same resize, the
// same draws after it.
TEST_F(StoredSampleTest, RawRecordsTrainAsAugmentForTrainingOnTheStoredPixels) {
  const PackedDataset dataset(file("raw"));
  const ImageReader reader(dataset, "train");
  SampleBuffers buffers;
  for (const ImageShape out : {ImageShape{24, 24}, ImageShape{20, 28}}) {
    for (int64_t index = 0; index < reader.size(); ++index) {
      const Image stored = full_image(reader, index);
      for (uint64_t seed = 0; seed < 4; ++seed) {
        const AugmentOptions options = random_resized(true);
        Image ours(static_cast<size_t>(out.bytes())), theirs(ours.size());
        SplitMix64 rng(seed), reference_rng(seed);
        prepare_stored_for_training(reader, index, ours.data(), out, options, rng, buffers);
        augment_for_training(stored.data(), reader.shape(index), theirs.data(), out, options,
                             reference_rng);
        ASSERT_EQ(ours, theirs) << "image " << index << " seed " << seed << " to " << text(out);
        ASSERT_EQ(rng.next(), reference_rng.next()) << "image " << index << ": other draws";
      }
    }
  }
}

// A JPEG record's window is the same draw on the stored shape; a decode at 1/2 or 1/4 (when the
// window still has the output's pixels) gives nearly the full decode's sample. Measured on this
// fixture (sharp edges, 6-pixel stripes and pixel noise: a hard case) at 16x16 and 24x32, over
// 88 reduced samples: a mean absolute difference of 3.4 levels (9.2 at worst per sample), up to
// 112 on single pixels at edges. Two causes, both inherent: the DCT's reduction is not an area
// average (a 1/2 decode of such an image differs from a 2x2 box average by a mean of 2, at most
// 76: measured with PIL's draft mode), and the window's edges are rounded to whole pixels of the
// reduced decode (up to half of one). For scale, the full decode's sample with the window moved
// by one reduced pixel differs from the right one by a mean of 5.8; the bounds below keep the
// reduced decode well closer than that, and a window in the wrong place is far off.
TEST_F(StoredSampleTest, JpegRecordsDrawTheSameWindowAndTheReducedDecodeStaysClose) {
  const PackedDataset dataset(file("jpeg"));
  const ImageReader reader(dataset, "train");
  SampleBuffers buffers;
  int reduced = 0, samples = 0;
  double total_mean = 0, moved_mean = 0;
  for (const ImageShape out : {ImageShape{16, 16}, ImageShape{24, 32}}) {
    for (int64_t index = 0; index < reader.size(); ++index) {
      const Image full = full_image(reader, index);
      for (uint64_t seed = 0; seed < 3; ++seed) {
        const std::string what = "image " + std::to_string(index) + " (" +
                                 text(reader.shape(index)) + ") seed " + std::to_string(seed) +
                                 " to " + text(out);
        // The draws are the whole chain's; the pixels are compared with the flip alone, as
        // TrivialAugment's equalize or solarize would amplify the decoders' small differences.
        for (const bool everything : {true, false}) {
          const AugmentOptions options = random_resized(everything);
          Image ours(static_cast<size_t>(out.bytes())), theirs(ours.size());
          SplitMix64 rng(seed), reference_rng(seed);
          prepare_stored_for_training(reader, index, ours.data(), out, options, rng, buffers);
          augment_for_training(full.data(), reader.shape(index), theirs.data(), out, options,
                               reference_rng);
          ASSERT_EQ(rng.next(), reference_rng.next()) << what << ": other draws";
          if (everything) continue;
          // The window is the seed's first draws: the decode is reduced exactly when it keeps
          // the output's pixels, and a full decode gives version 1's sample bit for bit.
          SplitMix64 window_rng(seed);
          const CropWindow window =
              random_resized_window(reader.shape(index), options.min_crop_scale, window_rng);
          const int denominator = jpeg_scale_for(int(window.height), int(window.width),
                                                 int(out.height), int(out.width));
          if (denominator == 1) {
            ASSERT_EQ(ours, theirs) << what;
            continue;
          }
          const Difference d = compare(ours, theirs);
          // The baseline: the full decode's sample with the window moved by one pixel of the
          // reduced decode (twice the most the rounding moves an edge).
          const ImageShape shape = reader.shape(index);
          CropWindow moved = window;
          if (window.left + window.width + denominator <= shape.width)
            moved.left += denominator;
          else if (window.left >= denominator)
            moved.left -= denominator;
          else if (window.top + window.height + denominator <= shape.height)
            moved.top += denominator;
          else
            moved.top -= denominator;
          Image shifted(ours.size());
          SplitMix64 shifted_rng = window_rng;
          resize_window(full.data(), shape, moved, shifted.data(), out);
          augment_in_place(shifted.data(), out, options, shifted_rng);
          EXPECT_LE(d.mean_abs, 12.0) << what << " (max " << d.max_abs << ")";
          EXPECT_LE(d.max_abs, 160) << what;
          reduced += ours != theirs;
          total_mean += d.mean_abs;
          moved_mean += compare(theirs, shifted).mean_abs;
          ++samples;
        }
      }
    }
  }
  ASSERT_GE(samples, 30) << "too few reduced decodes to judge";
  EXPECT_LE(total_mean / samples, 5.0);
  EXPECT_LT(total_mean, 0.75 * moved_mean) << "no closer than a window one decoded pixel off";
  // Identical everywhere would mean the reduced decode is never taken.
  EXPECT_GE(reduced, samples / 2) << "of " << samples;
}

// Crop none and pad: Resize(shorter = output side) + CenterCrop, then pad's random shift, with
// the draws of augment_for_training for the same mode (so switching the file's version does not
// move any later draw).
TEST_F(StoredSampleTest, CropNoneAndPadAreResizeAndCenterCropWithVersionOnesDraws) {
  const PackedDataset dataset(file("raw"));
  const ImageReader reader(dataset, "train");
  SampleBuffers buffers;
  std::vector<uint8_t> scratch;
  const ImageShape out{24, 24};
  int shifted = 0;
  for (const CropMode crop : {CropMode::kNone, CropMode::kPad}) {
    AugmentOptions options = random_resized(true);
    options.crop = crop;
    options.crop_padding = 3;
    for (int64_t index = 0; index < reader.size(); ++index) {
      const Image stored = full_image(reader, index);
      const ImageShape shape = reader.shape(index);
      SplitMix64 rng(index), expected_rng(index), v1_rng(index);
      Image ours(static_cast<size_t>(out.bytes())), expected(ours.size()), v1(ours.size());
      prepare_stored_for_training(reader, index, ours.data(), out, options, rng, buffers);
      resize_shorter_and_center_crop(stored.data(), shape, shape, out.height, expected.data(), out,
                                     scratch);
      if (crop == CropMode::kPad) {
        const Image centred = expected;
        random_pad_crop(centred.data(), expected.data(), out, options.crop_padding, expected_rng);
        shifted += expected != centred;
      }
      augment_in_place(expected.data(), out, options, expected_rng);
      ASSERT_EQ(ours, expected) << "image " << index;
      augment_for_training(stored.data(), shape, v1.data(), out, options, v1_rng);
      const uint64_t next = rng.next();
      ASSERT_EQ(next, expected_rng.next()) << "image " << index;
      ASSERT_EQ(next, v1_rng.next()) << "image " << index << ": not version 1's draws";
    }
  }
  EXPECT_GT(shifted, reader.size() / 2);
  // A non-square output: the resize covers it (no error), the draws are the same.
  const ImageShape wide{16, 40};
  Image image(static_cast<size_t>(wide.bytes()));
  for (int64_t index = 0; index < reader.size(); ++index) {
    AugmentOptions options;
    SplitMix64 rng(1), v1_rng(1);
    prepare_stored_for_training(reader, index, image.data(), wide, options, rng, buffers);
    v1_rng.next();  // the flip's draw
    ASSERT_EQ(rng.next(), v1_rng.next());
  }
}

// Evaluation: raw records give resize_shorter_and_center_crop of the stored pixels exactly;
// JPEG records decoded at the smallest scale that keeps the resized image's pixels stay close
// to the full decode (the bounds of the training test, for the same reasons; measured: a mean
// of 2.8 over the reduced samples, 4.1 at worst, at most 49) and differ from it where the decode
// is reduced.
TEST_F(StoredSampleTest, EvalIsResizeAndCenterCropOfTheStoredImage) {
  SampleBuffers buffers;
  std::vector<uint8_t> scratch;
  for (const char* store : {"raw", "jpeg"}) {
    const PackedDataset dataset(file(store));
    const ImageReader reader(dataset, "val");
    ASSERT_GE(reader.size(), 5) << store;
    int reduced = 0;
    double total_mean = 0;
    for (const int64_t shorter : {int64_t{18}, int64_t{37}}) {
      const ImageShape out{16, 16};
      for (int64_t index = 0; index < reader.size(); ++index) {
        const Image stored = full_image(reader, index);
        const ImageShape shape = reader.shape(index);
        Image ours(static_cast<size_t>(out.bytes())), expected(ours.size());
        prepare_stored_for_eval(reader, index, ours.data(), out, shorter, buffers);
        resize_shorter_and_center_crop(stored.data(), shape, shape, shorter, expected.data(), out,
                                       scratch);
        const std::string what = std::string(store) + " image " + std::to_string(index);
        const ImageShape resized = resized_to_shorter_side(shape, shorter);
        if (std::string(store) == "raw" ||
            jpeg_scale_for(int(shape.height), int(shape.width), int(resized.height),
                           int(resized.width)) == 1) {
          ASSERT_EQ(ours, expected) << what;  // no reduced decode: the same pixels exactly
          continue;
        }
        const Difference d = compare(ours, expected);
        EXPECT_LE(d.mean_abs, 12.0) << what << " (max " << d.max_abs << ")";
        EXPECT_LE(d.max_abs, 160) << what;
        reduced += ours != expected;
        total_mean += d.mean_abs;
      }
    }
    if (std::string(store) == "raw") continue;
    ASSERT_GE(reduced, reader.size())
        << "of " << 2 * reader.size() << ": the reduced decode is rare";
    EXPECT_LE(total_mean / reduced, 5.0);
  }
}

// Every thread with its own buffers, in its own order, prepares the same bytes.
TEST_F(StoredSampleTest, SamplesAreTheSameOnEveryThread) {
  for (const char* store : {"raw", "jpeg"}) {
    const PackedDataset dataset(file(store));
    const ImageReader reader(dataset, "train");
    const ImageShape out{24, 24};
    const int64_t n = reader.size();
    const auto prepare_all = [&](int order, std::vector<Image>& results) {
      SampleBuffers buffers;
      results.assign(static_cast<size_t>(2 * n), Image(static_cast<size_t>(out.bytes())));
      for (int64_t k = 0; k < n; ++k) {
        const int64_t index = order == 0 ? k : order == 1 ? n - 1 - k : (k * 7) % n;
        SplitMix64 rng(static_cast<uint64_t>(index) * 31 + 5);
        prepare_stored_for_training(reader, index, results[static_cast<size_t>(index)].data(), out,
                                    random_resized(true), rng, buffers);
        prepare_stored_for_eval(reader, index, results[static_cast<size_t>(n + index)].data(), out,
                                28, buffers);
      }
    };
    ASSERT_EQ(std::gcd(n, int64_t{7}), 1) << "order 2 must visit every image";
    std::vector<Image> serial;
    prepare_all(0, serial);
    std::vector<std::vector<Image>> parallel(3);
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t)
      threads.emplace_back([&, t] { prepare_all(t, parallel[static_cast<size_t>(t)]); });
    for (std::thread& thread : threads) thread.join();
    for (int t = 0; t < 3; ++t)
      for (size_t k = 0; k < serial.size(); ++k)
        ASSERT_EQ(parallel[static_cast<size_t>(t)][k], serial[k])
            << store << ": thread " << t << ", sample " << k;
  }
}

}  // namespace
}  // namespace nxt
