// Tests random erasing (data.random_erase; Note [Random erasing after normalisation] in
// data/augment.h): the rectangles' distribution against torchvision's RandomErasing.get_params
// (run by tests/unit/resolution_reference.py), their ranges and probability, the draw
// discipline (drawn last from each sample's stream: with erasing on, the uint8 batches are
// unchanged, and a rectangle depends only on (seed, epoch, position)), and the zeroing on the
// normalised batch: exactly 0 inside each rectangle, untouched outside.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <vector>

#include "common/hash.h"
#include "data/augment.h"
#include "data/image_reader.h"
#include "data/loader.h"
#include "data/normalize.h"
#include "data/packed_dataset.h"
#include "eval/forward.h"
#include "loader_support.h"
#include "packed_fixture.h"
#include "test_support.h"

namespace nxt {

using testing_support::drain;

namespace {

namespace fs = std::filesystem;

// Mean and standard error of the mean of a sample.
struct Moments {
  double mean = 0, sem = 0;
};
Moments moments_of(const std::vector<double>& values) {
  double sum = 0, squares = 0;
  for (double v : values) sum += v;
  const double n = static_cast<double>(values.size()), mean = sum / n;
  for (double v : values) squares += (v - mean) * (v - mean);
  return {mean, std::sqrt(squares / (n - 1) / n)};
}

// |a - b| within `sigmas` standard errors of the difference of two independent means.
void expect_same_mean(const std::vector<double>& a, const std::vector<double>& b, double sigmas,
                      const char* what) {
  const Moments ma = moments_of(a), mb = moments_of(b);
  const double se = std::sqrt(ma.sem * ma.sem + mb.sem * mb.sem);
  EXPECT_LT(std::fabs(ma.mean - mb.mean), sigmas * se)
      << what << ": ours " << ma.mean << " vs torchvision's " << mb.mean << " (standard error "
      << se << ")";
}

struct Draws {
  std::vector<double> erased, area_fraction, log_aspect, top_share;
};
void add_draw(Draws& d, ImageShape shape, int64_t h, int64_t w, int64_t top) {
  d.erased.push_back(h > 0 ? 1.0 : 0.0);
  if (h == 0) return;
  const double area = static_cast<double>(shape.height * shape.width);
  d.area_fraction.push_back(static_cast<double>(h * w) / area);
  d.log_aspect.push_back(std::log(static_cast<double>(h) / static_cast<double>(w)));
  // Where the box sits in its free range; h == H cannot happen (h < H).
  d.top_share.push_back(static_cast<double>(top) / static_cast<double>(shape.height - h));
}

// 20,000 draws each, on a wide image (24 x 40): boxes taller than 23 are refused, so the
// accepted aspects lean wide; swapping h and w, or the acceptance rule, shows in the means.
TEST(RandomEraseTest, ParametersMatchTorchvisionsGetParams) {
  ASSERT_TRUE(fs::exists(NXT_PYTHON)) << NXT_PYTHON << " (python3 with torchvision) missing";
  constexpr int kDraws = 20000;
  const ImageShape shape{24, 40};
  testing_support::TempDir dir("erase_reference");
  const std::string command = std::string(NXT_PYTHON) + " " + NXT_SOURCE_DIR +
                              "/tests/unit/resolution_reference.py erasing " +
                              std::to_string(kDraws) + " 24 40 " + dir.path("draws.txt");
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  Draws theirs, ours;
  std::ifstream in(dir.path("draws.txt"));
  for (int64_t h, w, top, left; in >> h >> w >> top >> left;) add_draw(theirs, shape, h, w, top);
  ASSERT_EQ(theirs.erased.size(), static_cast<size_t>(kDraws));
  for (uint64_t i = 0; i < kDraws; ++i) {
    SplitMix64 rng(mix_seed({17, i}));
    const EraseBox box = random_erase_box(shape, /*probability=*/1.0, rng);
    add_draw(ours, shape, box.height, box.width, box.top);
  }
  expect_same_mean(ours.area_fraction, theirs.area_fraction, 4, "mean area fraction");
  expect_same_mean(ours.log_aspect, theirs.log_aspect, 4, "mean log(h / w)");
  expect_same_mean(ours.top_share, theirs.top_share, 4, "mean top / (H - h)");
  // The lean to wide boxes is real here (measured: -0.07, some 15 standard errors from 0), and
  // both have it.
  EXPECT_LT(moments_of(ours.log_aspect).mean, -0.05);
  EXPECT_LT(moments_of(theirs.log_aspect).mean, -0.05);
}

TEST(RandomEraseTest, BoxesHaveTorchvisionsRangesAndTheProbability) {
  const ImageShape shape{40, 40};
  constexpr double p = 0.3;
  constexpr int kDraws = 40000;
  std::vector<double> erased;
  double min_area = 1, max_area = 0, min_aspect = 10, max_aspect = 0;
  const double area = static_cast<double>(shape.height * shape.width);
  for (uint64_t i = 0; i < kDraws; ++i) {
    SplitMix64 rng(mix_seed({3, i}));
    const EraseBox b = random_erase_box(shape, p, rng);
    erased.push_back(b.height > 0 ? 1.0 : 0.0);
    if (b.height == 0) continue;
    ASSERT_GE(b.top, 0);
    ASSERT_GE(b.left, 0);
    ASSERT_LT(b.height, shape.height);
    ASSERT_LT(b.width, shape.width);
    ASSERT_LE(b.top + b.height, shape.height);
    ASSERT_LE(b.left + b.width, shape.width);
    // h and w are rounded from a continuous area in [0.02, 0.33] and aspect in [0.3, 3.3]:
    // within half a pixel of a side, the bounds hold.
    const double h = b.height, w = b.width;
    EXPECT_LE((h - 0.5) * (w - 0.5), 0.33 * area) << h << " x " << w;
    EXPECT_GE((h + 0.5) * (w + 0.5), 0.02 * area) << h << " x " << w;
    EXPECT_LE((h - 0.5) / (w + 0.5), 3.3) << h << " x " << w;
    EXPECT_GE((h + 0.5) / (w - 0.5), 0.3) << h << " x " << w;
    min_area = std::min(min_area, h * w / area), max_area = std::max(max_area, h * w / area);
    min_aspect = std::min(min_aspect, h / w), max_aspect = std::max(max_aspect, h / w);
  }
  const Moments m = moments_of(erased);
  EXPECT_LT(std::fabs(m.mean - p), 4 * std::sqrt(p * (1 - p) / kDraws)) << "erased fraction";
  // The ranges are used to their ends, not a narrower part of them.
  EXPECT_LT(min_area, 0.025);
  EXPECT_GT(max_area, 0.30);
  EXPECT_LT(min_aspect, 0.4);
  EXPECT_GT(max_aspect, 2.8);
  // Off: no draw at all (the stream is untouched), and nothing erased.
  SplitMix64 a(9), b(9);
  EXPECT_EQ(random_erase_box(shape, 0.0, a).height, 0);
  EXPECT_EQ(a.next(), b.next());
}

// The zeroing against a per-sample loop, on boxes at the borders, empty and whole-width.
TEST(RandomEraseTest, EraseRectanglesZeroesExactlyTheBoxesInEveryChannel) {
  const torch::Tensor input = torch::rand({4, 3, 9, 11}) + 1;  // no zeros of its own
  const torch::Tensor boxes =
      torch::tensor({0, 0, 3, 4, 6, 7, 3, 4, 2, 3, 0, 5, 0, 0, 8, 10}, torch::kInt32).view({4, 4});
  for (const bool channels_last : {false, true}) {
    torch::Tensor erased =
        channels_last ? input.contiguous(torch::MemoryFormat::ChannelsLast) : input.clone();
    erase_rectangles(erased, boxes);
    torch::Tensor expected = input.clone();
    for (int64_t k = 0; k < 4; ++k) {
      const auto b = boxes[k];
      const int64_t top = b[0].item<int>(), left = b[1].item<int>(), h = b[2].item<int>(),
                    w = b[3].item<int>();
      expected[k].slice(1, top, top + h).slice(2, left, left + w).zero_();
    }
    EXPECT_TRUE(torch::equal(erased, expected)) << "channels_last " << channels_last;
    EXPECT_EQ(erased.eq(0).sum().item<int64_t>(), 3 * (12 + 12 + 0 + 80));
  }
}

class RandomEraseLoaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing_support::TempDir("random_erase");
    testing_support::make_demo_pack(dir_->path("images"), dir_->path("plain.h5"));
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string file() { return dir_->path("plain.h5"); }
  static LoaderOptions options(double random_erase, CropMode crop) {
    LoaderOptions o;
    o.batch_size = 8;
    o.output = {40, 40};  // the stored size: crop none reads in place, the others resample
    o.augment.hflip = true;
    o.augment.crop = crop;
    o.augment.random_erase = random_erase;
    o.seed = 11;
    o.threads = 2;
    return o;
  }
  static testing_support::TempDir* dir_;
};
testing_support::TempDir* RandomEraseLoaderTest::dir_ = nullptr;

// Over many epochs of both loader paths: pixels exactly 0 inside each rectangle in every
// channel, equal to the plain normalised input outside, and the erased share near p.
TEST_F(RandomEraseLoaderTest, ErasedPixelsAreZeroTheRestUntouchedAtRateP) {
  const PackedDataset dataset(file());
  const ImageReader reader(dataset, "train");
  const Normalizer normalize(dataset.mean(), dataset.stddev(), torch::kCPU);
  constexpr double p = 0.5;
  int64_t samples = 0, erased = 0;
  for (const CropMode crop : {CropMode::kNone, CropMode::kRandomResized}) {
    for (int64_t epoch = 0; epoch < 10; ++epoch) {
      EpochLoader loader(reader, options(p, crop), epoch);
      for (const Batch& batch : drain(loader)) {
        ASSERT_TRUE(batch.erase.defined());
        ASSERT_EQ(batch.erase.sizes(), (std::vector<int64_t>{batch.images.size(0), 4}));
        const torch::Tensor plain = model_input(batch.images, normalize, true);
        const torch::Tensor input = to_device(batch, normalize, true).images;
        for (int64_t k = 0; k < batch.images.size(0); ++k, ++samples) {
          const auto b = batch.erase[k];
          const int64_t top = b[0].item<int>(), left = b[1].item<int>(), h = b[2].item<int>(),
                        w = b[3].item<int>();
          erased += h > 0;
          const torch::Tensor inside = torch::zeros({40, 40}, torch::kBool);
          inside.slice(0, top, top + h).slice(1, left, left + w).fill_(true);
          const torch::Tensor mask = inside.expand({3, 40, 40});
          ASSERT_TRUE(input[k].masked_select(mask).eq(0).all().item<bool>())
              << "epoch " << epoch << " sample " << samples << ": not zero inside its box";
          ASSERT_TRUE(torch::equal(input[k].masked_select(~mask), plain[k].masked_select(~mask)))
              << "epoch " << epoch << " sample " << samples << ": changed outside its box";
        }
      }
    }
  }
  const double share = static_cast<double>(erased) / static_cast<double>(samples);
  EXPECT_LT(std::fabs(share - p), 4 * std::sqrt(p * (1 - p) / static_cast<double>(samples)))
      << erased << " of " << samples << " samples erased";
}

// Switching erasing on changes no uint8 pixel (its draw comes last), evaluation and p 0 carry
// no rectangles, and a sample's rectangle is a function of (seed, epoch, position): a loader
// resumed at position 30 on 3 ranks gives each position the rectangle of the whole epoch on 1.
TEST_F(RandomEraseLoaderTest, DrawnLastAndAFunctionOfSeedEpochAndPosition) {
  const PackedDataset dataset(file());
  const ImageReader reader(dataset, "train");
  for (const CropMode crop : {CropMode::kNone, CropMode::kPad, CropMode::kRandomResized}) {
    EpochLoader off(reader, options(0, crop), 2), on(reader, options(0.5, crop), 2);
    const std::vector<Batch> a = drain(off), b = drain(on);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_FALSE(a[i].erase.defined());
      EXPECT_TRUE(torch::equal(a[i].images, b[i].images)) << "batch " << i;
    }
  }
  LoaderOptions eval = options(0.5, CropMode::kNone);
  eval.training = false;
  EpochLoader evaluation(reader, eval, 0);
  EXPECT_FALSE(evaluation.next()->erase.defined());

  std::map<int64_t, std::vector<int32_t>> whole, resumed;
  const auto record = [](const std::vector<Batch>& batches, auto& by_position) {
    for (const Batch& batch : batches)
      for (size_t k = 0; k < batch.sample_positions.size(); ++k) {
        const torch::Tensor row = batch.erase[static_cast<int64_t>(k)].contiguous();
        by_position[batch.sample_positions[k]] =
            std::vector<int32_t>(row.data_ptr<int32_t>(), row.data_ptr<int32_t>() + 4);
      }
  };
  EpochLoader one(reader, options(0.5, CropMode::kRandomResized), 4);
  record(drain(one), whole);
  for (int rank = 0; rank < 3; ++rank) {
    LoaderOptions o = options(0.5, CropMode::kRandomResized);
    o.shard = {rank, 3};
    EpochLoader part(reader, o, 4, /*start_position=*/30);
    record(drain(part), resumed);
  }
  ASSERT_FALSE(resumed.empty());
  int64_t erased = 0;
  for (const auto& [position, box] : resumed) {
    if (position >= reader.size()) continue;  // the padding repeats the head
    ASSERT_TRUE(whole.count(position)) << "position " << position;
    EXPECT_EQ(box, whole[position]) << "position " << position;
    erased += box[2] > 0;
  }
  EXPECT_GT(erased, 0);
}

}  // namespace
}  // namespace nxt
