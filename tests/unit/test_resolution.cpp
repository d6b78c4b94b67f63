// Tests the resolution control of data/resolution.h: the training size schedule against FFCV's
// own formula (computed by numpy in tests/unit/resolution_reference.py, with FFCV's 0-based
// epochs), its ties, and the evaluation size and centre crop that data.eval_resize implies (and
// version 2 data's shorter side).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/config.h"
#include "data/augment.h"
#include "data/resolution.h"
#include "test_support.h"

namespace nxt {
namespace {

namespace fs = std::filesystem;

struct Ramp {
  int64_t start, end, from, to;
};

DataConfig ramp_config(const Ramp& r) {
  DataConfig data;
  data.train_size = r.start;
  data.train_size_end = r.end;
  data.train_size_ramp = {r.from, r.to};
  return data;
}

TEST(ResolutionTest, RoundHalfEvenIsNumpysRound) {
  EXPECT_EQ(round_half_even(0.5), 0.0);
  EXPECT_EQ(round_half_even(1.5), 2.0);
  EXPECT_EQ(round_half_even(2.5), 2.0);
  EXPECT_EQ(round_half_even(3.5), 4.0);
  EXPECT_EQ(round_half_even(-2.5), -2.0);
  EXPECT_EQ(round_half_even(2.4999), 2.0);
  EXPECT_EQ(round_half_even(2.5001), 3.0);
  EXPECT_EQ(round_half_even(6.0), 6.0);
}

// Every epoch of several ramps (up, down, FFCV's ImageNet one, ramps whose interpolated sizes
// fall on .5 multiples of 32) against FFCV's get_resolution run by numpy.
TEST(ResolutionTest, ScheduleIsFfcvsFormulaForEveryEpoch) {
  ASSERT_TRUE(fs::exists(NXT_PYTHON)) << NXT_PYTHON << " (python3 with numpy) missing";
  const std::vector<Ramp> ramps = {
      {160, 192, 66, 77},  // ffcv-imagenet rn50 88 epochs: start_ramp 65, end_ramp 76
      {160, 224, 1, 5},    // 176 (5.5) and 208 (6.5): ties, to the even multiple
      {64, 128, 1, 5},     // 80 (2.5) -> 64 and 112 (3.5) -> 128: half-even, not half-up
      {32, 64, 1, 3},      // 48 (1.5) -> 64
      {224, 128, 3, 9},    // downwards
      {128, 256, 2, 7},    // no ties
      {96, 96, 0, 0},      // no ramp
  };
  testing_support::TempDir dir("resolution_reference");
  std::vector<int64_t> ours;
  {
    std::ofstream cases(dir.path("cases.txt"));
    for (const Ramp& r : ramps) {
      for (int64_t epoch = 1; epoch <= std::max<int64_t>(r.to + 3, 12); ++epoch) {
        cases << r.start << " " << r.end << " " << r.from << " " << r.to << " " << epoch << "\n";
        ours.push_back(train_size_at(ramp_config(r), epoch));
      }
    }
  }
  const std::string command = std::string(NXT_PYTHON) + " " + NXT_SOURCE_DIR +
                              "/tests/unit/resolution_reference.py ffcv " + dir.path("cases.txt") +
                              " " + dir.path("sizes.txt");
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  std::vector<int64_t> theirs;
  std::ifstream in(dir.path("sizes.txt"));
  for (int64_t size; in >> size;) theirs.push_back(size);
  ASSERT_EQ(theirs.size(), ours.size());
  std::ifstream cases(dir.path("cases.txt"));
  std::string line;
  for (size_t k = 0; k < ours.size() && std::getline(cases, line); ++k)
    EXPECT_EQ(ours[k], theirs[k]) << "train_size, end, from, to, epoch = " << line;
  // The ties, spelled out (numpy's half-to-even; half-up would give 224, 96 and 128).
  EXPECT_EQ(train_size_at(ramp_config({160, 224, 1, 5}), 2), 192);
  EXPECT_EQ(train_size_at(ramp_config({160, 224, 1, 5}), 4), 192);
  EXPECT_EQ(train_size_at(ramp_config({64, 128, 1, 5}), 2), 64);
  EXPECT_EQ(train_size_at(ramp_config({64, 128, 1, 5}), 4), 128);
}

TEST(ResolutionTest, SizesDefaultToImageSizeAndComeFromTheConfig) {
  DataConfig data;
  data.image_size = 72;
  EXPECT_EQ(train_size_at(data, 1), 72);
  EXPECT_EQ(train_size_at(data, 50), 72);
  EXPECT_EQ(eval_size(data), 72);
  const Config config = parse_config(
      "data: {image_size: 64, train_size: 32, train_size_end: 96, train_size_ramp: [2, 4], "
      "eval_size: 96, eval_resize: 128}\n",
      "test.yaml");
  const std::vector<int64_t> expected = {32, 32, 64, 96, 96};  // epoch 3: 64 exactly
  for (int64_t epoch = 1; epoch <= 5; ++epoch)
    EXPECT_EQ(train_size_at(config.data, epoch), expected[static_cast<size_t>(epoch - 1)])
        << "epoch " << epoch;
  EXPECT_EQ(eval_size(config.data), 96);
  EXPECT_DOUBLE_EQ(eval_crop_ratio(config.data), 0.75);
  EXPECT_EQ(largest_input_size(config.data), 128);  // eval_resize: the warning's threshold
  EXPECT_EQ(largest_input_size(data), 72);
  EXPECT_NE(resolution_text(config.data).find("evaluation at 96 px (shorter side 128"),
            std::string::npos)
      << resolution_text(config.data);
}

// eval_resize R with eval_size S is torchvision's Resize(R) + CenterCrop(S): on an image stored
// at R, the centre S x S window; eval_crop_ratio is then S / R, and the two keys exclude each
// other (config.cpp).
TEST(ResolutionTest, EvalResizeGivesTorchvisionsCentreCrop) {
  DataConfig data;
  data.eval_size = 224;
  data.eval_resize = 232;
  EXPECT_DOUBLE_EQ(eval_crop_ratio(data), 224.0 / 232.0);
  const CropWindow window = centre_window({232, 232}, eval_crop_ratio(data));
  EXPECT_EQ(window.height, 224);
  EXPECT_EQ(window.width, 224);
  EXPECT_EQ(window.top, 4);  // torchvision: int(round((232 - 224) / 2))
  EXPECT_EQ(window.left, 4);
  data.eval_resize.reset();
  data.eval_crop_ratio = 0.875;
  EXPECT_DOUBLE_EQ(eval_crop_ratio(data), 0.875);  // without eval_resize: the key itself
  const std::string both = testing_support::error_of(
      [] { parse_config("data: {eval_resize: 256, eval_crop_ratio: 0.875}\n", "test.yaml"); });
  EXPECT_NE(both.find("set one of them"), std::string::npos) << both;
}

// Format version 2 data (own aspect ratios) is evaluated with torchvision's Resize(R) +
// CenterCrop(S): R is data.eval_resize, else round(S / eval_crop_ratio) (224 / 0.875 = 256),
// and the log line says so.
TEST(ResolutionTest, EvalResizeShorterForImagesOfTheirOwnShape) {
  DataConfig data;
  data.image_size = 224;
  EXPECT_EQ(eval_resize_shorter(data), 224);  // ratio 1: the centre square of the resize
  data.eval_crop_ratio = 0.875;
  EXPECT_EQ(eval_resize_shorter(data), 256);
  data.eval_size = 32;
  EXPECT_EQ(eval_resize_shorter(data), 37);  // 36.57, rounded
  data.eval_crop_ratio = 1.0;
  data.eval_resize = 40;
  EXPECT_EQ(eval_resize_shorter(data), 40);
  const std::string v2 = resolution_text(data, 64);
  EXPECT_NE(v2.find("evaluation at 32 px (shorter side 40, centre crop; images stored with their "
                    "longer side <= 64 px)"),
            std::string::npos)
      << v2;
}

}  // namespace
}  // namespace nxt
