// Tests pack_hdf5 end to end on real files made here: round trip through the C++ reader and
// h5py, the train/val split and the optional held-out test split (--test-fraction, --test-dir),
// awkward inputs (grayscale, RGBA, CMYK, 16-bit, BMP, WebP, truncated, text), clear errors,
// determinism, and that a failed pack leaves the previous file intact.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/check.h"
#include "data/h5.h"
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

}  // namespace
}  // namespace nxt
