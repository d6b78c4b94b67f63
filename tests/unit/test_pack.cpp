// Tests pack_hdf5 end to end on real files made here: round trip through the C++ reader and
// h5py, the train/val split and the optional held-out test split (--test-fraction, --test-dir),
// awkward inputs (grayscale, RGBA, CMYK, 16-bit, BMP, WebP, truncated, text), clear errors,
// determinism, and that a failed pack leaves the previous file intact. Format version 2
// (--max-side, --store raw|jpeg|mixed) is checked through the HDF5 C API and h5py, not through
// the loader's reader: its fit, stream, index, records, refusals and determinism; and
// make_demo_images --photos.
#include <gtest/gtest.h>

#include <cstdlib>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/check.h"
#include "data/dataset_format.h"
#include "data/h5.h"
#include "data/jpeg.h"
#include "data/packed_dataset.h"
#include "inspect.h"
#include "packer.h"
#include "test_support.h"

namespace nxt {
namespace {

namespace fs = std::filesystem;

int run(const std::string& command) {
  return std::system(command.c_str());
}

class PackTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("nxt_pack_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    ASSERT_EQ(run(std::string(NXT_BIN_DIR) + "/nxt_make_demo_images --output " + folder() +
                  " --classes 3 --per-class 30 --size 40 --seed 5 > /dev/null"),
              0);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string folder() { return (dir_ / "images").string(); }
  static std::string path(const std::string& name) { return (dir_ / name).string(); }
  static double test_fraction_of(const std::string& file) {
    return h5::read_double_attribute(h5::open_file_readonly(path(file)), "test_fraction").at(0);
  }
  // A second ImageFolder of demo scenes under dir_/name, of `classes` classes.
  static std::string make_folder(const std::string& name, int classes, int per_class) {
    const std::string out = path(name);
    if (!fs::exists(out))
      EXPECT_EQ(run(std::string(NXT_BIN_DIR) + "/nxt_make_demo_images --output " + out +
                    " --classes " + std::to_string(classes) + " --per-class " +
                    std::to_string(per_class) + " --size 40 --seed 9 > /dev/null"),
                0);
    return out;
  }

  static PackOptions options(const std::string& output, int size = 40) {
    PackOptions o;
    o.input = folder();
    o.output = path(output);
    o.height = o.width = size;
    o.threads = 2;
    o.seed = 3;
    o.progress = false;
    return o;
  }
  static fs::path dir_;
};
fs::path PackTest::dir_;

using testing_support::error_of;

TEST_F(PackTest, RoundTripThroughTheReader) {
  const PackReport report = pack_image_folder(options("round.h5"));
  EXPECT_EQ(report.train_images + report.val_images, 90u);
  EXPECT_TRUE(report.skipped.empty());
  const PackedDataset dataset(path("round.h5"));
  EXPECT_EQ(dataset.classes(), (std::vector<std::string>{"circle", "square", "triangle"}));
  EXPECT_FALSE(report.has_test);
  EXPECT_FALSE(dataset.has_split("test")) << "no test split unless asked for";
  EXPECT_EQ(dataset.attribute("test_source"), "");
  EXPECT_EQ(dataset.height(), 40);
  // 80/20 per class: 30 images -> 6 val, 24 train each.
  for (const char* split : {"train", "val"}) {
    std::map<int32_t, int> counts;
    for (int32_t label : dataset.split(split).labels) ++counts[label];
    for (int c = 0; c < 3; ++c) EXPECT_EQ(counts[c], std::string(split) == "val" ? 6 : 24) << split;
  }
  // Labels agree with the class folder of each stored path, and pixels with a fresh decode.
  const std::vector<std::string> paths = dataset.paths("val");
  std::vector<uint8_t> pixels(dataset.image_bytes());
  for (int64_t i = 0; i < dataset.split("val").size(); ++i) {
    const std::string& rel = paths[i];
    EXPECT_EQ(rel.substr(0, rel.find('/')), dataset.classes()[dataset.split("val").labels[i]]);
    dataset.read_image("val", i, pixels.data());
    const cv::Mat reference = load_image(folder() + "/" + rel, 40, 40, ResizeMode::kStretch);
    ASSERT_EQ(0, std::memcmp(reference.data, pixels.data(), pixels.size())) << rel;
  }
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(dataset.mean()[c], report.mean[c], 1e-12);
    EXPECT_GT(dataset.stddev()[c], 0.05);
  }
}

TEST_F(PackTest, ReadableWithH5pyAndMatchesPil) {
  pack_image_folder(options("h5py.h5"));
  PackOptions with_test = options("h5py_test.h5");
  with_test.test_fraction = 0.1;
  pack_image_folder(with_test);
  for (const char* file : {"h5py.h5", "h5py_test.h5"})
    EXPECT_EQ(run(std::string(NXT_PYTHON) + " " + NXT_SOURCE_DIR +
                  "/tests/data/check_packed_h5py.py " + path(file) + " " + folder()),
              0)
        << file;
}

// Per class of 30: val round(30 * 0.2) = 6, test round(30 * 0.1) = 3, train the other 21.
TEST_F(PackTest, TestFractionGivesStratifiedDisjointSplitsCoveringEveryFile) {
  PackOptions o = options("with_test.h5");
  o.test_fraction = 0.1;
  const PackReport report = pack_image_folder(o);
  EXPECT_TRUE(report.has_test);
  EXPECT_EQ(report.train_images, 63u);
  EXPECT_EQ(report.val_images, 18u);
  EXPECT_EQ(report.test_images, 9u);
  const PackedDataset dataset(path("with_test.h5"));
  const std::map<std::string, int> per_class = {{"train", 21}, {"val", 6}, {"test", 3}};
  std::multiset<std::string> stored;
  for (const auto& [split, expected] : per_class) {
    std::map<int32_t, int> counts;
    for (int32_t label : dataset.split(split).labels) ++counts[label];
    for (int c = 0; c < 3; ++c) EXPECT_EQ(counts[c], expected) << split << " class " << c;
    for (const std::string& rel : dataset.paths(split)) stored.insert(rel);
  }
  std::multiset<std::string> on_disk;
  for (const LabelledFile& file : scan_image_folder(folder()).files) on_disk.insert(file.relative);
  EXPECT_EQ(stored, on_disk) << "every file in exactly one split";
  EXPECT_EQ(test_fraction_of("with_test.h5"), 0.1);

  // Val is drawn before test, so asking for a test split leaves val as it was.
  pack_image_folder(options("without_test.h5"));
  EXPECT_EQ(PackedDataset(path("without_test.h5")).paths("val"), dataset.paths("val"));

  // mean/std are the train split's alone: recomputed here from the stored train images.
  double sum[3] = {0, 0, 0}, pixels = 0;
  std::vector<uint8_t> image(dataset.image_bytes());
  for (int64_t i = 0; i < dataset.split("train").size(); ++i) {
    dataset.read_image("train", i, image.data());
    for (size_t p = 0; p < image.size(); p += 3, ++pixels)
      for (int c = 0; c < 3; ++c) sum[c] += image[p + c] / 255.0;
  }
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(dataset.mean()[c], sum[c] / pixels, 1e-9) << c;

  std::ostringstream inspected;
  EXPECT_EQ(inspect_dataset(path("with_test.h5"), inspected), 0);
  EXPECT_NE(inspected.str().find("test: 9 images read back"), std::string::npos) << inspected.str();
  EXPECT_NE(inspected.str().find("      test\ncircle"), std::string::npos) << inspected.str();
  std::ostringstream without;
  inspect_dataset(path("without_test.h5"), without);
  EXPECT_NE(without.str().find("       val\ncircle"), std::string::npos) << without.str();
  EXPECT_EQ(without.str().find("\ntest: "), std::string::npos) << without.str();
}

TEST_F(PackTest, TestSplitFollowsTheSeed) {
  PackOptions o = options("seeded_a.h5");
  o.test_fraction = 0.2;
  pack_image_folder(o);
  o.output = path("seeded_b.h5");
  o.threads = 1;
  pack_image_folder(o);
  o.output = path("seeded_c.h5");
  o.seed = 4;
  pack_image_folder(o);
  const PackedDataset a(path("seeded_a.h5")), b(path("seeded_b.h5")), c(path("seeded_c.h5"));
  EXPECT_EQ(a.paths("test"), b.paths("test"));
  EXPECT_EQ(a.fingerprint(), b.fingerprint());
  EXPECT_NE(a.paths("test"), c.paths("test"));
  EXPECT_EQ(c.split("test").size(), a.split("test").size());
}

TEST_F(PackTest, TestDirIsPackedAsTheTestSplit) {
  const std::string held_out = make_folder("held_out", 3, 4);
  PackOptions o = options("test_dir.h5");
  o.test_dir = held_out;
  const PackReport report = pack_image_folder(o);
  EXPECT_EQ(report.train_images + report.val_images, 90u) << "the input folder is not cut";
  EXPECT_EQ(report.test_images, 12u);
  const PackedDataset dataset(path("test_dir.h5"));
  std::vector<std::string> expected;
  for (const LabelledFile& file : scan_image_folder(held_out).files)
    expected.push_back(file.relative);
  EXPECT_EQ(dataset.paths("test"), expected);
  EXPECT_EQ(dataset.attribute("test_source"), held_out);
  EXPECT_EQ(test_fraction_of("test_dir.h5"), -1.0) << "-1: the test split is a folder";

  // With --val-dir, --test-fraction still cuts the test split from the input folder.
  PackOptions separate_val = options("val_dir_test_fraction.h5");
  separate_val.val_dir = held_out;
  separate_val.test_fraction = 0.1;
  const PackReport both = pack_image_folder(separate_val);
  EXPECT_EQ(both.val_images, 12u);
  EXPECT_EQ(both.test_images, 9u);
  EXPECT_EQ(both.train_images, 81u);
  const PackedDataset cut(path("val_dir_test_fraction.h5"));
  for (const std::string& rel : cut.paths("test"))
    EXPECT_TRUE(fs::exists(folder() + "/" + rel)) << rel << " comes from the input folder";
}

TEST_F(PackTest, BadTestSplitOptionsAreClearErrors) {
  PackOptions o = options("never_test.h5");
  o.val_fraction = 0.5;
  o.test_fraction = 0.5;
  EXPECT_EQ(error_of([&] { pack_image_folder(o); }),
            "--val-fraction 0.5 + --test-fraction 0.5 must be < 1: no training images would be "
            "left");
  o.val_fraction = 0.7;
  o.test_fraction = 0.4;
  EXPECT_NE(error_of([&] { pack_image_folder(o); }).find("must be < 1"), std::string::npos);
  o.val_fraction = 0.2;
  o.test_fraction = 1.5;
  EXPECT_NE(error_of([&] { pack_image_folder(o); }).find("--test-fraction must be in [0, 1)"),
            std::string::npos);

  const std::string held_out = make_folder("held_out", 3, 4);
  o.test_fraction = 0.1;
  o.test_dir = held_out;
  EXPECT_EQ(error_of([&] { pack_image_folder(o); }),
            "--test-fraction 0.1 and --test-dir '" + held_out +
                "' both ask for a test split: give one of them");

  const std::string two_classes = make_folder("two_classes", 2, 3);
  o.test_fraction = 0;
  o.test_dir = two_classes;
  EXPECT_EQ(error_of([&] { pack_image_folder(o); }),
            "--test-dir '" + two_classes + "' has other classes than '" + folder() + "'");
  EXPECT_FALSE(fs::exists(path("never_test.h5")));
}

TEST_F(PackTest, SameInputAndSeedGiveTheSameDatasets) {
  pack_image_folder(options("a.h5"));
  PackOptions other = options("b.h5");
  other.threads = 1;
  pack_image_folder(other);
  const PackedDataset a(path("a.h5")), b(path("b.h5"));
  EXPECT_EQ(a.fingerprint(), b.fingerprint());
  for (const char* split : {"train", "val"}) {
    ASSERT_EQ(a.split(split).labels, b.split(split).labels);
    EXPECT_EQ(a.paths(split), b.paths(split));
    std::vector<uint8_t> x(a.image_bytes()), y(b.image_bytes());
    for (int64_t i = 0; i < a.split(split).size(); ++i) {
      a.read_image(split, i, x.data());
      b.read_image(split, i, y.data());
      ASSERT_EQ(x, y) << split << " " << i;
    }
  }
  PackOptions reseeded = options("c.h5");
  reseeded.seed = 4;
  pack_image_folder(reseeded);
  EXPECT_NE(PackedDataset(path("c.h5")).paths("val"), a.paths("val"));
}

TEST_F(PackTest, ResizeModesGiveTheRequestedSize) {
  for (const ResizeMode mode : {ResizeMode::kStretch, ResizeMode::kCrop, ResizeMode::kPad}) {
    cv::Mat wide(20, 60, CV_8UC3, cv::Scalar(0, 0, 255));
    const cv::Mat out = resize_image(wide, 16, 24, mode);
    EXPECT_EQ(out.rows, 16);
    EXPECT_EQ(out.cols, 24);
    const cv::Vec3b corner = out.at<cv::Vec3b>(0, 0), centre = out.at<cv::Vec3b>(8, 12);
    EXPECT_EQ(centre, cv::Vec3b(0, 0, 255));
    // pad letterboxes the 3:1 image on black; the others fill the frame.
    EXPECT_EQ(corner, mode == ResizeMode::kPad ? cv::Vec3b(0, 0, 0) : cv::Vec3b(0, 0, 255));
  }
}

TEST_F(PackTest, AwkwardInputsGetTheDocumentedOutcome) {
  const std::string mixed = path("mixed");
  ASSERT_EQ(run(std::string(NXT_PYTHON) + " " + NXT_SOURCE_DIR +
                "/tests/data/make_mixed_folder.py " + mixed),
            0);
  PackOptions o = options("mixed.h5", 8);
  o.input = mixed;
  o.val_fraction = 0;
  const PackReport report = pack_image_folder(o);
  std::map<std::string, std::string> skipped;
  for (const auto& s : report.skipped) skipped[s.relative] = s.reason;
  EXPECT_EQ(skipped.size(), 3u);
  EXPECT_NE(skipped["bad/truncated.jpg"].find("truncated JPEG"), std::string::npos);
  EXPECT_NE(skipped["bad/text.jpg"].find("not a decodable image"), std::string::npos);
  EXPECT_NE(skipped["bad/notes.txt"].find("not an image file extension"), std::string::npos);
  EXPECT_EQ(report.train_images, 7u);  // 6 good + bad/ok.jpg

  const PackedDataset dataset(path("mixed.h5"));
  const std::vector<std::string> paths = dataset.paths("train");
  std::vector<uint8_t> pixels(dataset.image_bytes());
  auto pixel_of = [&](const std::string& rel) {
    const auto at = std::find(paths.begin(), paths.end(), rel) - paths.begin();
    dataset.read_image("train", at, pixels.data());
    const int centre = (4 * 8 + 4) * 3;
    return cv::Vec3i(pixels[centre], pixels[centre + 1], pixels[centre + 2]);
  };
  EXPECT_EQ(pixel_of("good/gray.png"), cv::Vec3i(77, 77, 77));     // expanded to RGB
  EXPECT_EQ(pixel_of("good/rgba.png"), cv::Vec3i(200, 100, 50));   // alpha dropped
  EXPECT_EQ(pixel_of("good/deep.png"), cv::Vec3i(128, 128, 128));  // 16-bit scaled to 8
  EXPECT_EQ(pixel_of("good/wide.bmp"), cv::Vec3i(10, 200, 30));
  EXPECT_EQ(pixel_of("good/plain.webp"), cv::Vec3i(90, 60, 220));
  const cv::Vec3i cyan = pixel_of("good/cmyk.jpg");  // CMYK (255,0,0,0) is cyan
  EXPECT_LT(cyan[0], 40);
  EXPECT_GT(cyan[1], 200);
  EXPECT_GT(cyan[2], 200);

  o.strict = true;
  o.output = path("strict.h5");
  EXPECT_NE(error_of([&] { pack_image_folder(o); }).find("--strict: 3 file(s) skipped"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(path("strict.h5")));
}

TEST_F(PackTest, BadFoldersAreClearErrors) {
  PackOptions o = options("never.h5");
  o.input = path("absent");
  EXPECT_EQ(error_of([&] { pack_image_folder(o); }),
            "input folder '" + path("absent") + "' does not exist");
  fs::create_directories(path("with_empty/a"));
  fs::create_directories(path("with_empty/b"));
  fs::copy_file(folder() + "/circle/00000.jpg", path("with_empty/a/x.jpg"));
  o.input = path("with_empty");
  EXPECT_EQ(error_of([&] { pack_image_folder(o); }),
            "class folder '" + path("with_empty/b") + "' is empty: remove it or add images");
  fs::create_directories(path("no_classes"));
  o.input = path("no_classes");
  EXPECT_NE(error_of([&] { pack_image_folder(o); }).find("has no class sub-folders"),
            std::string::npos);
  fs::create_directories(path("all_broken/a"));
  std::ofstream(path("all_broken/a/x.jpg")) << "nope";
  o.input = path("all_broken");
  o.val_fraction = 0;
  EXPECT_NE(error_of([&] { pack_image_folder(o); }).find("nothing usable"), std::string::npos);
  EXPECT_FALSE(fs::exists(path("never.h5")));
}

TEST_F(PackTest, FailedPackKeepsThePreviousFile) {
  pack_image_folder(options("keep.h5"));
  const std::string before = PackedDataset(path("keep.h5")).fingerprint();
  PackOptions o = options("keep.h5");
  o.input = path("all_broken_again");
  fs::create_directories(o.input + "/a");
  std::ofstream(o.input + "/a/x.png") << "nope";
  EXPECT_THROW(pack_image_folder(o), Error);
  EXPECT_EQ(PackedDataset(path("keep.h5")).fingerprint(), before);
  for (const auto& entry : fs::directory_iterator(dir_))
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
}

TEST_F(PackTest, ReaderRejectsWrongAndCorruptFiles) {
  std::ofstream(path("text.h5")) << "not hdf5";
  const std::string not_hdf5 = error_of([&] { PackedDataset d(path("text.h5")); });
  EXPECT_NE(not_hdf5.find("not an HDF5 file"), std::string::npos) << not_hdf5;
  EXPECT_NE(not_hdf5.find("(HDF5: "), std::string::npos) << "HDF5's own reason is kept";
  EXPECT_NE(error_of([&] { PackedDataset d(path("none.h5")); }).find("does not exist"),
            std::string::npos);
  pack_image_folder(options("full.h5"));
  const auto size = fs::file_size(path("full.h5"));
  fs::copy_file(path("full.h5"), path("cut.h5"));
  fs::resize_file(path("cut.h5"), size / 2);
  EXPECT_NE(error_of([&] {
              PackedDataset d(path("cut.h5"));
              std::vector<uint8_t> px(d.image_bytes());
              for (int64_t i = 0; i < d.split("train").size(); ++i)
                d.read_image("train", i, px.data());
            }).find(path("cut.h5")),
            std::string::npos);
}

// ---- Format version 2: pack_hdf5 --max-side ----

constexpr int kMaxSide = 48;

// The fit rule, written out here independently of fit_size: the longer side to kMaxSide when it
// is longer, the other round(other * kMaxSide / longer), never enlarged.
cv::Size expected_fit(const cv::Size& size) {
  const int longer = std::max(size.width, size.height);
  if (longer <= kMaxSide) return size;
  auto other = [&](int side) {
    return std::max(1, static_cast<int>(std::floor(side * double(kMaxSide) / longer + 0.5)));
  };
  return size.width >= size.height ? cv::Size(kMaxSide, other(size.height))
                                   : cv::Size(other(size.width), kMaxSide);
}

// One split of a version 2 file as stored, read with the HDF5 C API alone.
struct StreamSplit {
  std::vector<uint8_t> data;
  std::vector<int64_t> index;  // kIndexColumns per row
  std::vector<std::string> paths;
  std::vector<int32_t> labels;
  hsize_t chunk = 0;
  int filters = -1;
  std::string columns;
  size_t size() const { return labels.size(); }
  int64_t at(size_t row, format::IndexColumn column) const {
    return index[row * format::kIndexColumns + column];
  }
};

StreamSplit read_stream_split(hid_t file, const std::string& split, const std::string& path) {
  StreamSplit out;
  h5::Handle data = h5::open_dataset(file, split + "/" + format::kData, path);
  const std::vector<hsize_t> bytes = h5::shape_of(data);
  EXPECT_EQ(bytes.size(), 1u) << split << ": the stream is 1-D";
  out.data.resize(bytes.at(0));
  if (!out.data.empty())
    EXPECT_GE(H5Dread(data, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data.data()), 0);
  h5::Handle create(H5Dget_create_plist(data), H5Pclose);
  EXPECT_EQ(H5Pget_layout(create), H5D_CHUNKED);
  H5Pget_chunk(create, 1, &out.chunk);
  out.filters = H5Pget_nfilters(create);
  h5::Handle index = h5::open_dataset(file, split + "/" + format::kIndex, path);
  out.labels = h5::read_int32s(h5::open_dataset(file, split + "/" + format::kLabels, path));
  out.paths = h5::read_strings(h5::open_dataset(file, split + "/" + format::kPaths, path));
  const std::vector<hsize_t> shape = h5::shape_of(index);
  EXPECT_EQ(shape, (std::vector<hsize_t>{out.labels.size(), format::kIndexColumns})) << split;
  out.index.resize(out.labels.size() * format::kIndexColumns);
  if (!out.index.empty())
    EXPECT_GE(H5Dread(index, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.index.data()), 0);
  out.columns = h5::read_string_attribute(index, format::kAttrIndexColumns);
  return out;
}

// Mean absolute difference of two same-size images.
double mean_abs_diff(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  const cv::Scalar sum = cv::sum(diff);
  return (sum[0] + sum[1] + sum[2]) / (3.0 * a.total());
}

// An ImageFolder of 40 smooth, lightly noisy photos (JPEG and PNG) of various shapes: landscape,
// portrait, smaller than kMaxSide, exactly kMaxSide, a long strip, and large ones (a 265 x 400
// JPEG is decoded at 1/8 scale). Two classes of 20.
class FitTest : public PackTest {
 protected:
  struct Source {
    int height, width;
    const char* extension;
  };
  static constexpr Source kSources[] = {{60, 90, "jpg"}, {96, 40, "png"},  {20, 30, "jpg"},
                                        {48, 48, "png"}, {30, 100, "png"}, {400, 265, "jpg"},
                                        {33, 49, "jpg"}, {250, 500, "png"}};

  static std::string aspects() {
    const std::string root = path("aspects");
    if (fs::exists(root)) return root;
    cv::RNG rng(11);
    for (int i = 0; i < 40; ++i) {
      const Source& source = kSources[i % std::size(kSources)];
      cv::Mat grid(3, 4, CV_8UC3), image;
      rng.fill(grid, cv::RNG::UNIFORM, 0, 256);
      cv::resize(grid, image, cv::Size(source.width, source.height), 0, 0, cv::INTER_CUBIC);
      cv::Mat noise(image.size(), CV_16SC3), noisy;
      rng.fill(noise, cv::RNG::NORMAL, 0, 2);
      image.convertTo(noisy, CV_16SC3);
      noisy += noise;
      noisy.convertTo(image, CV_8UC3);
      const std::string dir = root + "/" + (i < 20 ? "a" : "b");
      fs::create_directories(dir);
      char name[32];
      std::snprintf(name, sizeof name, "%02d.%s", i, source.extension);
      EXPECT_TRUE(cv::imwrite(dir + "/" + name, image, {cv::IMWRITE_JPEG_QUALITY, 95}));
    }
    return root;
  }

  static PackOptions fit_options(const std::string& output, StoreMode store) {
    PackOptions o = options(output);
    o.input = aspects();
    o.max_side = kMaxSide;
    o.store = store;
    o.val_fraction = 0.25;
    o.threads = 3;
    return o;
  }
};

TEST_F(FitTest, FitSizeKeepsTheAspectAndNeverEnlarges) {
  EXPECT_EQ(fit_size(cv::Size(90, 60), 48), cv::Size(48, 32));
  EXPECT_EQ(fit_size(cv::Size(40, 96), 48), cv::Size(20, 48));
  EXPECT_EQ(fit_size(cv::Size(30, 20), 48), cv::Size(30, 20)) << "smaller: kept";
  EXPECT_EQ(fit_size(cv::Size(48, 48), 48), cv::Size(48, 48));
  EXPECT_EQ(fit_size(cv::Size(100, 30), 48), cv::Size(48, 14));  // 14.4
  EXPECT_EQ(fit_size(cv::Size(96, 3), 48), cv::Size(48, 2)) << "1.5 rounds half up";
  EXPECT_EQ(fit_size(cv::Size(1000, 1), 48), cv::Size(48, 1)) << "at least 1";
  EXPECT_EQ(fit_size(cv::Size(64, 64), 48), cv::Size(48, 48));
  for (const Source& source : kSources) {
    const cv::Size size(source.width, source.height);
    EXPECT_EQ(fit_size(size, kMaxSide), expected_fit(size)) << size;
  }
  // A large JPEG is decoded at a reduced DCT scale that keeps the longer side >= max_side: the
  // shape is the full image's fit (265 x 400: 32 x 48), not the fit of the decoded 34 x 50
  // (33 x 48), and the pixels are close to a full decode's.
  const std::string big = aspects() + "/a/05.jpg";
  const cv::Mat fitted = load_image_fit(big, kMaxSide);
  EXPECT_EQ(fitted.size(), cv::Size(32, 48));
  cv::Mat full = cv::imread(big, cv::IMREAD_COLOR), reference;
  cv::cvtColor(full, full, cv::COLOR_BGR2RGB);
  cv::resize(full, reference, cv::Size(32, 48), 0, 0, cv::INTER_AREA);
  EXPECT_LT(mean_abs_diff(fitted, reference), 3.0);
  EXPECT_EQ(fit_longer_side(full, kMaxSide).size(), cv::Size(32, 48));
  EXPECT_EQ(fit_longer_side(fitted, 100).data, fitted.data) << "a fitting image is not copied";
}

// Every --store: attributes, index shapes by the fit rule, records back to back, raw records
// equal to the fitted pixels, JPEG records decoding close to them, mixed's choice per path.
// JPEG tolerance: mean |difference| < 5 grey levels at q90 (4:2:0). Measured 1.6 to 4.3, median
// 2.2; the worst are the narrow ones (48 x 14, 20 x 48), where the 16 x 16 chroma blocks span
// the random colour gradients. Another image differs by ~50.
TEST_F(FitTest, EachStoreWritesTheFittedImages) {
  for (const StoreMode store : {StoreMode::kRaw, StoreMode::kJpeg, StoreMode::kMixed}) {
    const std::string name = std::string("fit_") + name_of(store, store_mode_names()) + ".h5";
    SCOPED_TRACE(name);
    const PackOptions o = fit_options(name, store);
    const PackReport report = pack_image_folder(o);
    EXPECT_EQ(report.train_images, 30u);
    EXPECT_EQ(report.val_images, 10u);
    const h5::Handle file = h5::open_file_readonly(path(name));
    EXPECT_EQ(h5::read_int_attribute(file, format::kAttrVersion),
              std::vector<int64_t>{format::kFormatVersion});
    EXPECT_EQ(h5::read_int_attribute(file, format::kAttrMaxSide), std::vector<int64_t>{kMaxSide});
    EXPECT_EQ(h5::read_int_attribute(file, format::kAttrImageSize),
              (std::vector<int64_t>{kMaxSide, kMaxSide}));
    EXPECT_EQ(h5::read_string_attribute(file, format::kAttrResizeMode), format::kResizeModeFit);
    EXPECT_EQ(h5::read_string_attribute(file, format::kAttrStorage),
              name_of(store, store_mode_names()));
    EXPECT_EQ(h5::read_int_attribute(file, format::kAttrJpegQuality), std::vector<int64_t>{90});
    EXPECT_EQ(h5::has_attribute(file, format::kAttrJpegShare), store == StoreMode::kMixed);
    EXPECT_FALSE(h5::exists(file, "train/images")) << "version 2 has no squares";

    size_t jpeg_records = 0;
    uint64_t stored_bytes = 0;
    double sum[3] = {0, 0, 0}, pixels = 0;
    for (const char* split : {"train", "val"}) {
      const StreamSplit stream = read_stream_split(file, split, path(name));
      EXPECT_EQ(stream.columns, format::kIndexColumnNames);
      EXPECT_EQ(stream.chunk, static_cast<hsize_t>(format::kDataChunkBytes));
      EXPECT_EQ(stream.filters, 0);
      int64_t end = 0;
      for (size_t i = 0; i < stream.size(); ++i) {
        const std::string source = o.input + "/" + stream.paths[i];
        SCOPED_TRACE(source);
        const cv::Size original = cv::imread(source, cv::IMREAD_UNCHANGED).size();
        const cv::Size fit = expected_fit(original);
        ASSERT_EQ(stream.at(i, format::kColHeight), fit.height);
        ASSERT_EQ(stream.at(i, format::kColWidth), fit.width);
        ASSERT_EQ(stream.at(i, format::kColOffset), end) << "records lie back to back";
        const int64_t bytes = stream.at(i, format::kColBytes);
        end += bytes;
        ASSERT_LE(static_cast<size_t>(end), stream.data.size());
        const uint8_t* record = stream.data.data() + stream.at(i, format::kColOffset);
        const auto encoding = static_cast<format::Encoding>(stream.at(i, format::kColEncoding));
        EXPECT_EQ(encoding, encoding_for(o, stream.paths[i]));
        const cv::Mat expected = load_image_fit(source, kMaxSide);
        if (encoding == format::Encoding::kRaw) {
          ASSERT_EQ(bytes, int64_t{fit.height} * fit.width * 3);
          ASSERT_EQ(0, std::memcmp(record, expected.data, static_cast<size_t>(bytes)));
        } else {
          ++jpeg_records;
          std::vector<uint8_t> decoded;
          const JpegHeader shape =
              decode_jpeg(record, static_cast<size_t>(bytes), 1, decoded, source);
          ASSERT_EQ(cv::Size(shape.width, shape.height), fit);
          const cv::Mat image(fit, CV_8UC3, decoded.data());
          EXPECT_LT(mean_abs_diff(image, expected), 5.0);
        }
        if (std::string(split) == "train") {
          const cv::Scalar channel_sums = cv::sum(expected);  // statistics: before encoding
          for (int c = 0; c < 3; ++c) sum[c] += channel_sums[c] / 255.0;
          pixels += static_cast<double>(expected.total());
        }
      }
      EXPECT_EQ(static_cast<size_t>(end), stream.data.size()) << "the stream ends with the last";
      stored_bytes += stream.data.size();
    }
    const std::vector<double> mean = h5::read_double_attribute(file, format::kAttrMean);
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(mean.at(c), sum[c] / pixels, 1e-9) << c;
    EXPECT_EQ(report.stored_bytes, stored_bytes);
    EXPECT_EQ(report.jpeg_images, jpeg_records);
    if (store == StoreMode::kRaw) EXPECT_EQ(jpeg_records, 0u);
    if (store == StoreMode::kJpeg) EXPECT_EQ(jpeg_records, 40u);
    // 40 draws at 0.5: the hash's count lies within 3 standard deviations (+-9.5) of 20.
    if (store == StoreMode::kMixed) EXPECT_NEAR(static_cast<double>(jpeg_records), 20.0, 9.5);
  }
}

TEST_F(FitTest, MixedSharesFollowTheSeededHash) {
  PackOptions o = fit_options("unused.h5", StoreMode::kMixed);
  for (const double share : {0.0, 0.3, 1.0}) {
    o.jpeg_share = share;
    int jpeg = 0;
    for (int i = 0; i < 2000; ++i)
      jpeg += encoding_for(o, "class/" + std::to_string(i) + ".jpg") == format::Encoding::kJpeg;
    // Binomial(2000, 0.3): standard deviation 0.0102; 4 of them.
    EXPECT_NEAR(jpeg / 2000.0, share, 0.041) << share;
  }
  o.jpeg_share = 0.5;
  std::vector<format::Encoding> by_seed[2];
  for (const uint64_t seed : {3, 4}) {
    o.seed = seed;
    for (int i = 0; i < 64; ++i) by_seed[seed - 3].push_back(encoding_for(o, std::to_string(i)));
  }
  EXPECT_NE(by_seed[0], by_seed[1]) << "another seed picks other images";
  o.store = StoreMode::kJpeg;
  EXPECT_EQ(encoding_for(o, "x"), format::Encoding::kJpeg);
  o.store = StoreMode::kRaw;
  EXPECT_EQ(encoding_for(o, "x"), format::Encoding::kRaw);
}

TEST_F(FitTest, SameBytesWhateverTheThreads) {
  PackOptions one = fit_options("threads_1.h5", StoreMode::kMixed);
  one.threads = 1;
  PackOptions three = fit_options("threads_3.h5", StoreMode::kMixed);
  three.threads = 3;
  pack_image_folder(one);
  pack_image_folder(three);
  const h5::Handle a = h5::open_file_readonly(one.output), b = h5::open_file_readonly(three.output);
  for (const char* split : {"train", "val"}) {
    const StreamSplit x = read_stream_split(a, split, one.output);
    const StreamSplit y = read_stream_split(b, split, three.output);
    EXPECT_EQ(x.data, y.data) << split;
    EXPECT_EQ(x.index, y.index) << split;
    EXPECT_EQ(x.paths, y.paths) << split;
  }
  EXPECT_EQ(h5::read_string_attribute(a, format::kAttrFingerprint),
            h5::read_string_attribute(b, format::kAttrFingerprint));
}

// The fingerprint is the dataset's identity in checkpoints: the storage choices change it, and a
// version 2 file never shares a version 1 file's.
TEST_F(FitTest, FingerprintsTellLayoutsApart) {
  std::set<std::string> fingerprints;
  auto fingerprint_of = [&](PackOptions o) {
    pack_image_folder(o);
    return h5::read_string_attribute(h5::open_file_readonly(o.output), format::kAttrFingerprint);
  };
  PackOptions squares = options("print_v1.h5", kMaxSide);
  squares.input = aspects();
  squares.val_fraction = 0.25;
  fingerprints.insert(fingerprint_of(squares));
  for (const StoreMode store : {StoreMode::kRaw, StoreMode::kJpeg, StoreMode::kMixed})
    fingerprints.insert(fingerprint_of(fit_options("print_v2.h5", store)));
  PackOptions quality = fit_options("print_v2.h5", StoreMode::kJpeg);
  quality.jpeg_quality = 80;
  fingerprints.insert(fingerprint_of(quality));
  PackOptions share = fit_options("print_v2.h5", StoreMode::kMixed);
  share.jpeg_share = 0.25;
  fingerprints.insert(fingerprint_of(share));
  PackOptions side = fit_options("print_v2.h5", StoreMode::kRaw);
  side.max_side = 40;
  fingerprints.insert(fingerprint_of(side));
  EXPECT_EQ(fingerprints.size(), 7u);
}

// --size keeps writing version 1 squares, with none of version 2's attributes or datasets.
TEST_F(FitTest, SizeStillWritesVersionOneSquares) {
  pack_image_folder(options("squares.h5"));
  const h5::Handle file = h5::open_file_readonly(path("squares.h5"));
  EXPECT_EQ(h5::read_int_attribute(file, format::kAttrVersion),
            std::vector<int64_t>{format::kFixedSquaresVersion});
  EXPECT_EQ(h5::read_string_attribute(file, format::kAttrResizeMode), "stretch");
  for (const char* attribute : {format::kAttrMaxSide, format::kAttrStorage,
                                format::kAttrJpegQuality, format::kAttrJpegShare})
    EXPECT_FALSE(h5::has_attribute(file, attribute)) << attribute;
  EXPECT_TRUE(h5::exists(file, "train/images"));
  EXPECT_FALSE(h5::exists(file, "train/data"));
  EXPECT_FALSE(h5::exists(file, "train/index"));
}

TEST_F(FitTest, RefusedCombinationsAreClearErrors) {
  PackOptions o = fit_options("refused.h5", StoreMode::kRaw);
  o.compress = true;
  EXPECT_NE(error_of([&] { pack_image_folder(o); }).find("--compress does not go with --max-side"),
            std::string::npos);
  o.compress = false;
  for (const int quality : {0, 101}) {
    o.jpeg_quality = quality;
    EXPECT_NE(error_of([&] {
                pack_image_folder(o);
              }).find("--jpeg-quality must be in [1, 100], got " + std::to_string(quality)),
              std::string::npos);
  }
  o.jpeg_quality = 90;
  o.jpeg_share = 1.5;
  EXPECT_NE(error_of([&] { pack_image_folder(o); }).find("--jpeg-share must be in [0, 1]"),
            std::string::npos);
  o.jpeg_share = 0.5;
  o.max_side = 0;
  o.store = StoreMode::kJpeg;
  EXPECT_EQ(error_of([&] { pack_image_folder(o); }),
            "--store jpeg needs --max-side (format version 2); --size writes raw squares");
  EXPECT_FALSE(fs::exists(path("refused.h5")));

  // The command line refuses the flags that exclude each other before anything is read.
  const std::string pack = std::string(NXT_BIN_DIR) + "/nxt_pack_hdf5 --quiet --input " +
                           aspects() + " --output " + path("refused.h5") + " ";
  auto stderr_of = [&](const std::string& flags) {
    const std::string log = path("refused.log");
    EXPECT_NE(run(pack + flags + " > /dev/null 2> " + log), 0) << flags;
    std::ifstream in(log);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_NE(stderr_of("--max-side 48 --size 32").find("--size and --max-side exclude each other"),
            std::string::npos);
  EXPECT_NE(stderr_of("--store jpeg").find("--store needs --max-side"), std::string::npos);
  EXPECT_NE(stderr_of("--jpeg-quality 80").find("--jpeg-quality needs --max-side"),
            std::string::npos);
  EXPECT_NE(stderr_of("--max-side 48 --resize crop").find("--resize does not go with --max-side"),
            std::string::npos);
  EXPECT_NE(stderr_of("--max-side 48 --compress").find("--compress does not go with --max-side"),
            std::string::npos);
  EXPECT_NE(stderr_of("--max-side 48 --store jpeg --jpeg-quality 0")
                .find("--jpeg-quality must be in [1, 100], got 0"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(path("refused.h5")));
}

TEST_F(FitTest, ReadableWithH5pyAndPil) {
  for (const StoreMode store : {StoreMode::kRaw, StoreMode::kJpeg, StoreMode::kMixed}) {
    const std::string name = std::string("h5py_") + name_of(store, store_mode_names()) + ".h5";
    pack_image_folder(fit_options(name, store));
    EXPECT_EQ(run(std::string(NXT_PYTHON) + " " + NXT_SOURCE_DIR +
                  "/tests/data/check_packed_h5py.py " + path(name) + " " + aspects()),
              0)
        << name;
  }
}

TEST_F(FitTest, InspectReportsAndChecksTheStream) {
  pack_image_folder(fit_options("inspect_mixed.h5", StoreMode::kMixed));
  std::ostringstream report;
  EXPECT_EQ(inspect_dataset(path("inspect_mixed.h5"), report), 0) << report.str();
  const std::string text = report.str();
  for (const char* fact :
       {"nxt-images version 2", "longer side <= 48", "storage:     mixed", "JPEG quality 90",
        "JPEG share asked 0.5", "train stream: ", "KB per image", "% as JPEG",
        "train: 30 images read back", "val: 10 images read back", "OK: "})
    EXPECT_NE(text.find(fact), std::string::npos) << fact << "\n" << text;

  // Records that no longer lie back to back (row 1 pointed at row 0's bytes, both raw and of
  // one size, so the reader still accepts the row) are reported.
  pack_image_folder(fit_options("inspect_raw.h5", StoreMode::kRaw));
  fs::copy_file(path("inspect_raw.h5"), path("inspect_bad.h5"));
  {
    h5::Handle file(H5Fopen(path("inspect_bad.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    ASSERT_GE(file.get(), 0);
    StreamSplit train = read_stream_split(file, "train", path("inspect_bad.h5"));
    size_t twin = 1;  // a later row of the same byte count as row 0
    while (twin < train.size() &&
           train.at(twin, format::kColBytes) != train.at(0, format::kColBytes))
      ++twin;
    ASSERT_LT(twin, train.size());
    train.index[twin * format::kIndexColumns + format::kColOffset] = 0;
    h5::Handle index = h5::open_dataset(file, "train/index", path("inspect_bad.h5"));
    ASSERT_GE(H5Dwrite(index, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, train.index.data()),
              0);
  }
  std::ostringstream bad;
  EXPECT_GT(inspect_dataset(path("inspect_bad.h5"), bad), 0);
  EXPECT_NE(bad.str().find("PROBLEM: /train/index row"), std::string::npos) << bad.str();
}

// --photos: ImageNet-like sizes, JPEG, the same bytes whatever the threads.
TEST_F(PackTest, DemoPhotosHaveImageNetSizes) {
  const std::string make = std::string(NXT_BIN_DIR) + "/nxt_make_demo_images --photos " +
                           "--classes 30 --per-class 2 --seed 7 > /dev/null --output ";
  ASSERT_EQ(run(make + path("photos_1") + " --threads 1"), 0);
  ASSERT_EQ(run(make + path("photos_2") + " --threads 2"), 0);
  const ImageFolder folder = scan_image_folder(path("photos_1"));
  ASSERT_EQ(folder.classes.size(), 30u);
  EXPECT_EQ(folder.classes[0], "circle_checker_h000");  // sorted: shape, texture, hue band
  std::set<std::string> shapes;
  for (const LabelledFile& file : folder.files) {
    SCOPED_TRACE(file.relative);
    const cv::Mat image = cv::imread(file.path, cv::IMREAD_UNCHANGED);
    ASSERT_FALSE(image.empty());
    const int shorter = std::min(image.rows, image.cols), longer = std::max(image.rows, image.cols);
    EXPECT_GE(shorter, 200);
    EXPECT_LE(shorter, 500);
    EXPECT_LE(longer, shorter * 4 / 3 + 1);
    std::ifstream a(file.path, std::ios::binary),
        b(path("photos_2/" + file.relative), std::ios::binary);
    EXPECT_TRUE(
        std::equal(std::istreambuf_iterator<char>(a), {}, std::istreambuf_iterator<char>(b), {}))
        << "the same bytes with --threads 2";
  }
  EXPECT_NE(run(make + path("photos_bad") + " --size 64 2> /dev/null"), 0) << "not with --size";
}

}  // namespace
}  // namespace nxt
