// Tests the stronger training augmentation on known synthetic images: TrivialAugmentWide's ops
// forced one by one against torchvision's own (Debian's python3-torchvision, run on the same
// bytes), colour jitter, the draw discipline of augment_in_place (nothing changes while the new
// stages are off), and the batch ops of data/mix.h (mixup, cutmix, soft targets, their loss).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "common/hash.h"
#include "data/augment.h"
#include "data/image_ops.h"
#include "data/mix.h"
#include "data/trivial_augment.h"
#include "test_support.h"

namespace nxt {
namespace {

namespace fs = std::filesystem;
using Image = std::vector<uint8_t>;

// Smooth gradients, a bright rectangle and seeded noise: every op has something to change, and
// no channel is flat (a flat channel is a special case of autocontrast and equalize).
Image synthetic_image(ImageShape shape, uint64_t seed) {
  Image image(static_cast<size_t>(shape.bytes()));
  SplitMix64 noise(seed);
  for (int64_t y = 0; y < shape.height; ++y) {
    for (int64_t x = 0; x < shape.width; ++x) {
      const bool in_box = y > shape.height / 4 && y < shape.height / 2 && x > shape.width / 3 &&
                          x < 2 * shape.width / 3;
      for (int64_t c = 0; c < 3; ++c) {
        const int64_t base =
            in_box ? 220 - 30 * c : (x * 160 / shape.width + y * 60 / shape.height + 20 * c);
        const int64_t value = base + static_cast<int64_t>(noise.below(31)) - 15;
        image[static_cast<size_t>((y * shape.width + x) * 3 + c)] =
            static_cast<uint8_t>(std::clamp<int64_t>(value, 0, 255));
      }
    }
  }
  return image;
}

Image constant_image(ImageShape shape, uint8_t value) {
  return Image(static_cast<size_t>(shape.bytes()), value);
}

using testing_support::read_bytes;
using testing_support::write_bytes;

struct Difference {
  int max_abs = 0;
  double fraction_differing = 0;  // of channel values
};

// Compared over the window [margin, size - margin) of both sides.
Difference compare(const Image& a, const Image& b, ImageShape shape, int64_t margin = 0) {
  Difference d;
  int64_t differing = 0, compared = 0;
  for (int64_t y = margin; y < shape.height - margin; ++y) {
    for (int64_t x = margin; x < shape.width - margin; ++x) {
      for (int64_t c = 0; c < 3; ++c) {
        const auto i = static_cast<size_t>((y * shape.width + x) * 3 + c);
        const int diff = std::abs(int(a[i]) - int(b[i]));
        d.max_abs = std::max(d.max_abs, diff);
        differing += diff != 0;
        ++compared;
      }
    }
  }
  d.fraction_differing = static_cast<double>(differing) / static_cast<double>(compared);
  return d;
}

struct ForcedOp {
  TrivialOp op;
  int bin;
  bool negative;
};

bool is_geometric(TrivialOp op) {
  return op == TrivialOp::kShearX || op == TrivialOp::kShearY || op == TrivialOp::kTranslateX ||
         op == TrivialOp::kTranslateY || op == TrivialOp::kRotate;
}

// Every op at a low, a middle and the top bin, both signs where signed, plus posterize's and
// solarize's extremes.
std::vector<ForcedOp> forced_ops() {
  std::vector<ForcedOp> cases;
  for (int k = 0; k < kTrivialOpCount; ++k) {
    const auto op = static_cast<TrivialOp>(k);
    for (const int bin : {0, 7, 18, 30}) {
      for (const bool negative : {false, true}) {
        if (negative && !trivial_op_is_signed(op)) continue;
        cases.push_back({op, bin, negative});
        if (!trivial_op_has_magnitude(op)) break;
      }
      if (!trivial_op_has_magnitude(op)) break;
    }
  }
  return cases;
}

TEST(TrivialAugmentTest, EveryForcedOpMatchesTorchvision) {
  ASSERT_TRUE(fs::exists(NXT_PYTHON)) << NXT_PYTHON << " (python3 with torchvision) missing";
  testing_support::TempDir dir("trivial_reference");
  const ImageShape shape{48, 64};
  const Image source = synthetic_image(shape, 7);
  write_bytes(dir.path("source.raw"), source);
  const std::vector<ForcedOp> cases = forced_ops();
  {
    std::ofstream list(dir.path("cases.txt"));
    for (const ForcedOp& c : cases)
      list << static_cast<int>(c.op) << " " << c.bin << " " << c.negative << "\n";
  }
  const std::string command = std::string(NXT_PYTHON) + " " + NXT_SOURCE_DIR +
                              "/tests/unit/torchvision_ops_reference.py " + dir.path("source.raw") +
                              " 48 64 " + dir.path("cases.txt") + " " + dir.dir().string();
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  std::map<int, double> reference_magnitudes;
  {
    std::ifstream in(dir.path("magnitudes.txt"));
    int k;
    double magnitude;
    while (in >> k >> magnitude) reference_magnitudes[k] = magnitude;
  }
  ASSERT_EQ(reference_magnitudes.size(), cases.size());

  std::map<TrivialOp, int> exact_cases;
  for (size_t k = 0; k < cases.size(); ++k) {
    const ForcedOp& c = cases[k];
    const std::string what =
        trivial_op_name(c.op) + " bin " + std::to_string(c.bin) + (c.negative ? " negative" : "");
    EXPECT_EQ(trivial_magnitude(c.op, c.bin, c.negative), reference_magnitudes[int(k)]) << what;
    Image ours = source;
    apply_trivial_op(ours.data(), shape, c.op, c.bin, c.negative);
    const Image theirs = read_bytes(dir.path("case_" + std::to_string(k) + ".raw"));
    ASSERT_EQ(theirs.size(), ours.size()) << what;
    const Difference d = compare(ours, theirs, shape);
    if (is_geometric(c.op)) {
      // Nearest sampling: a pixel whose source lies within rounding error of a pixel boundary
      // may pick the neighbour (OpenCV's fixed point vs torch's float32 grid).
      EXPECT_LT(d.fraction_differing, 0.005) << what;
    } else {
      EXPECT_LE(d.max_abs, 1) << what;
      EXPECT_LT(d.fraction_differing, 0.001) << what;
    }
    exact_cases[c.op] += d.max_abs == 0;
    if (c.op != TrivialOp::kIdentity && c.bin == 30) {
      EXPECT_NE(compare(ours, source, shape).max_abs, 0) << what << " changed nothing";
    }
  }
  // Measured: every op but Rotate reproduces torchvision bit for bit (the pixel ops replay its
  // float32 arithmetic; shears and translations hit no rounding ties); keep it so.
  for (int k = 0; k < kTrivialOpCount; ++k) {
    const auto op = static_cast<TrivialOp>(k);
    if (op == TrivialOp::kRotate) continue;
    int count = 0;
    for (const ForcedOp& c : cases) count += c.op == op;
    EXPECT_EQ(exact_cases[op], count) << trivial_op_name(op) << " is not bit-exact in every case";
  }
}

TEST(TrivialAugmentTest, ZeroMagnitudeGeometryIsTheIdentity) {
  const ImageShape shape{33, 40};
  const Image source = synthetic_image(shape, 3);
  for (const TrivialOp op : {TrivialOp::kIdentity, TrivialOp::kShearX, TrivialOp::kShearY,
                             TrivialOp::kTranslateX, TrivialOp::kTranslateY, TrivialOp::kRotate}) {
    Image image = source;
    apply_trivial_op(image.data(), shape, op, 0, true);
    EXPECT_EQ(image, source) << trivial_op_name(op);
  }
}

TEST(TrivialAugmentTest, TranslationMovesWholePixelsAndFillsWithBlack) {
  const ImageShape shape{20, 50};
  const Image source = synthetic_image(shape, 4);
  Image image = source;
  apply_trivial_op(image.data(), shape, TrivialOp::kTranslateX, 30, false);  // +32 px
  for (int64_t y = 0; y < shape.height; ++y) {
    for (int64_t x = 0; x < shape.width; ++x) {
      for (int64_t c = 0; c < 3; ++c) {
        const auto at = [&](int64_t column) { return size_t((y * shape.width + column) * 3 + c); };
        ASSERT_EQ(image[at(x)], x < 32 ? 0 : source[at(x - 32)]) << y << "," << x;
      }
    }
  }
}

TEST(TrivialAugmentTest, SameSeedSameImageAnotherSeedAnother) {
  const ImageShape shape{32, 32};
  const Image source = synthetic_image(shape, 5);
  const auto augmented = [&](uint64_t seed) {
    Image image = source;
    SplitMix64 rng(seed);
    trivial_augment_wide(image.data(), shape, rng);
    return image;
  };
  int differing_seeds = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    EXPECT_EQ(augmented(seed), augmented(seed));
    differing_seeds += augmented(seed) != augmented(seed + 100);
  }
  // Identity (1/14) or two draws of the same op and magnitude can coincide: rarely.
  EXPECT_GE(differing_seeds, 15);
}

TEST(TrivialAugmentTest, DrawsOpThenBinThenSign) {
  const ImageShape shape{24, 24};
  const Image source = synthetic_image(shape, 6);
  std::set<int> ops_seen;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    SplitMix64 rng(seed), expected_rng(seed);
    Image image = source, expected = source;
    trivial_augment_wide(image.data(), shape, rng);
    const auto op = static_cast<TrivialOp>(expected_rng.below(kTrivialOpCount));
    const int bin = trivial_op_has_magnitude(op) ? int(expected_rng.below(31)) : 0;
    const bool negative = trivial_op_is_signed(op) && expected_rng.below(2) == 1;
    apply_trivial_op(expected.data(), shape, op, bin, negative);
    ASSERT_EQ(image, expected) << "seed " << seed;
    ASSERT_EQ(rng.next(), expected_rng.next()) << "seed " << seed << ": another number of draws";
    ops_seen.insert(static_cast<int>(op));
  }
  EXPECT_EQ(ops_seen.size(), size_t(kTrivialOpCount));
}

TEST(ImageOpsTest, BrightnessOnAConstantImage) {
  const ImageShape shape{5, 7};
  Image image = constant_image(shape, 100);
  adjust_brightness(image.data(), shape, 1.5);
  EXPECT_EQ(image, constant_image(shape, 150));
  adjust_brightness(image.data(), shape, 2.0);  // 300, clamped
  EXPECT_EQ(image, constant_image(shape, 255));
  adjust_brightness(image.data(), shape, 0.0);
  EXPECT_EQ(image, constant_image(shape, 0));
  EXPECT_NE(testing_support::error_of([&] {
              adjust_brightness(image.data(), shape, -0.5);
            }).find("brightness factor must be a finite number >= 0, got -0.5"),
            std::string::npos);
}

TEST(ImageOpsTest, GrayscaleAndSaturationZeroMakeGray) {
  EXPECT_EQ(grayscale_of(255, 255, 255), 254);  // 0.9999 * 255, truncated, as torchvision
  EXPECT_EQ(grayscale_of(100, 0, 0), 29);
  const ImageShape shape{6, 6};
  Image image = synthetic_image(shape, 8);
  const Image source = image;
  adjust_saturation(image.data(), shape, 0.0);
  for (size_t p = 0; p < image.size(); p += 3) {
    ASSERT_EQ(image[p], grayscale_of(source[p], source[p + 1], source[p + 2]));
    ASSERT_EQ(image[p], image[p + 1]);
    ASSERT_EQ(image[p], image[p + 2]);
  }
}

TEST(ColorJitterTest, StrengthZeroIsTheIdentityAndDrawsNothing) {
  const ImageShape shape{16, 16};
  Image image = synthetic_image(shape, 9);
  const Image source = image;
  SplitMix64 rng(1), untouched(1);
  color_jitter(image.data(), shape, 0.0, rng);
  EXPECT_EQ(image, source);
  EXPECT_EQ(rng.next(), untouched.next());
}

TEST(ColorJitterTest, FactorsStayInRangeAndSeedsReproduce) {
  const ImageShape shape{8, 8};
  const double strength = 0.4;
  std::set<int> values_seen;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    // On a gray constant image contrast and saturation change (almost) nothing: the brightness
    // factor alone sets the value.
    Image image = constant_image(shape, 100), again = image;
    SplitMix64 rng(seed), same(seed);
    color_jitter(image.data(), shape, strength, rng);
    color_jitter(again.data(), shape, strength, same);
    ASSERT_EQ(image, again) << "seed " << seed;
    for (const uint8_t v : image) {
      ASSERT_GE(v, 100 * (1 - strength) - 2) << "seed " << seed;
      ASSERT_LE(v, 100 * (1 + strength) + 1) << "seed " << seed;
    }
    values_seen.insert(image[0]);
  }
  EXPECT_GE(values_seen.size(), 20u) << "the brightness factor hardly varies";
  // A coloured image: another seed gives another image.
  const Image source = synthetic_image(shape, 10);
  Image a = source, b = source;
  SplitMix64 rng_a(1), rng_b(2);
  color_jitter(a.data(), shape, strength, rng_a);
  color_jitter(b.data(), shape, strength, rng_b);
  EXPECT_NE(a, b);
}

// A fingerprint of augment_for_training's outputs and of the draws it leaves, over crop modes,
// flip, sizes and seeds, with TrivialAugment and jitter off. Resampled outputs are left out of
// it (OpenCV's resize may round differently in another version); their draws are in.
uint64_t crop_and_flip_fingerprint() {
  Fnv1a64 hash;
  const ImageShape in{37, 53};
  const Image source = synthetic_image(in, 11);
  for (const CropMode crop : {CropMode::kNone, CropMode::kPad, CropMode::kRandomResized}) {
    for (const bool hflip : {false, true}) {
      for (const ImageShape out : {ImageShape{37, 53}, ImageShape{24, 30}}) {
        for (uint64_t seed = 0; seed < 8; ++seed) {
          AugmentOptions options;
          options.crop = crop;
          options.hflip = hflip;
          Image image(static_cast<size_t>(out.bytes()));
          SplitMix64 rng(seed);
          augment_for_training(source.data(), in, image.data(), out, options, rng);
          const bool resampled = crop == CropMode::kRandomResized || out.height != in.height;
          if (!resampled) hash.add(image.data(), image.size());
          hash.add_value(rng.next());
        }
      }
    }
  }
  return hash.value();
}

// A CHANGE PIN, not a correctness check: the value is whatever augment.cpp produced before
// TrivialAugment and jitter were added (2026-11-29), computed by this same function. It fails
// on any change to crop/flip's draws or unresampled pixels, right or wrong, so that existing
// runs cannot change unnoticed; if a change is intended, update the value. Whether crop and
// flip are right is checked in test_loader.cpp (Augment.FlipMirrorsTheColumnsOrLeavesTheImage,
// Augment.PadCropIsAShiftedWindowOfThePaddedImage,
// Augment.RandomResizedWindowsStayInsideWithTorchvisionRanges).
TEST(AugmentTest, ChangePinCropAndFlipOutputsAndDrawsAreAsBeforeNewStages) {
  EXPECT_EQ(crop_and_flip_fingerprint(), 0xfd8f3866b58bdca1ULL)
      << "crop/flip output changed: intended? then update this pin";
}

TEST(AugmentTest, InPlaceChainsFlipTrivialJitterInThatOrder) {
  const ImageShape shape{28, 28};
  const Image source = synthetic_image(shape, 12);
  AugmentOptions options;
  options.hflip = true;
  options.auto_augment = AutoAugment::kTrivial;
  options.color_jitter = 0.3;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    Image chained = source, staged = source;
    SplitMix64 rng(seed), staged_rng(seed);
    augment_in_place(chained.data(), shape, options, rng);
    random_flip(staged.data(), shape, options, staged_rng);
    trivial_augment_wide(staged.data(), shape, staged_rng);
    color_jitter(staged.data(), shape, options.color_jitter, staged_rng);
    ASSERT_EQ(chained, staged) << "seed " << seed;
    ASSERT_EQ(rng.next(), staged_rng.next()) << "seed " << seed;
  }
  // augment_for_training ends with the same chain after its crop.
  Image cropped(static_cast<size_t>(shape.bytes())), chained(cropped.size());
  SplitMix64 rng(5), chained_rng(5);
  augment_for_training(source.data(), shape, cropped.data(), shape, options, rng);
  chained = source;
  augment_in_place(chained.data(), shape, options, chained_rng);
  EXPECT_EQ(cropped, chained);
}

// ---- data/mix.h ----

torch::Tensor labels_of(std::vector<int64_t> values) {
  return torch::tensor(values, torch::kLong);
}

// Image b constant at b + 1 in every channel, so every pixel says where it came from.
torch::Tensor constant_images(int64_t batch, int64_t height, int64_t width) {
  return torch::arange(1, batch + 1, torch::kFloat)
      .view({batch, 1, 1, 1})
      .expand({batch, 3, height, width})
      .contiguous();
}

// data.eval_crop_ratio: torchvision's Resize(256) + CenterCrop(224) is the centre 224 of 256.
TEST(EvalCropTest, CentreWindowIsTorchvisionsCenterCrop) {
  const CropWindow w = centre_window({256, 256}, 0.875);
  EXPECT_EQ(std::vector<int64_t>({w.top, w.left, w.height, w.width}),
            std::vector<int64_t>({16, 16, 224, 224}));
  const CropWindow r = centre_window({32, 48}, 0.5);
  EXPECT_EQ(std::vector<int64_t>({r.top, r.left, r.height, r.width}),
            std::vector<int64_t>({8, 12, 16, 24}));
  const CropWindow whole = centre_window({7, 5}, 1.0);
  EXPECT_EQ(std::vector<int64_t>({whole.top, whole.left, whole.height, whole.width}),
            std::vector<int64_t>({0, 0, 7, 5}));
  EXPECT_EQ(centre_window({3, 3}, 0.01).height, 1);  // never empty
}

TEST(EvalCropTest, PrepareForEvalKeepsOnlyTheCentre) {
  // A 32x32 image: a red 2-pixel frame around green. Ratio 0.875 keeps the centre 28x28, which
  // is all green; a plain resize to 28 would blend the frame in.
  const ImageShape in{32, 32}, out{28, 28};
  std::vector<uint8_t> image(static_cast<size_t>(in.bytes()));
  for (int64_t y = 0; y < 32; ++y)
    for (int64_t x = 0; x < 32; ++x) {
      const bool frame = y < 2 || x < 2 || y >= 30 || x >= 30;
      uint8_t* p = &image[static_cast<size_t>((y * 32 + x) * 3)];
      p[0] = frame ? 255 : 0;
      p[1] = frame ? 0 : 255;
      p[2] = 0;
    }
  std::vector<uint8_t> cropped(static_cast<size_t>(out.bytes()));
  prepare_for_eval(image.data(), in, cropped.data(), out, 0.875);
  for (size_t k = 0; k < cropped.size(); k += 3)
    ASSERT_TRUE(cropped[k] == 0 && cropped[k + 1] == 255 && cropped[k + 2] == 0) << k / 3;
  std::vector<uint8_t> resized(static_cast<size_t>(out.bytes()));
  prepare_for_eval(image.data(), in, resized.data(), out, 1.0);
  EXPECT_GT(resized[0], 0);  // the frame shows at the corner
}

TEST(MixTest, AlphasZeroLeaveTheBatchAndGiveSmoothedOneHots) {
  const torch::Tensor images = torch::randn({4, 3, 8, 8});
  const torch::Tensor labels = labels_of({2, 0, 1, 2});
  const MixedBatch mixed = mix_batch(images, labels, 3, 0, 0, 0.1, 123);
  EXPECT_TRUE(mixed.images.is_same(images));
  const torch::Tensor expected = torch::tensor({{0.1 / 3, 0.1 / 3, 0.9 + 0.1 / 3},
                                                {0.9 + 0.1 / 3, 0.1 / 3, 0.1 / 3},
                                                {0.1 / 3, 0.9 + 0.1 / 3, 0.1 / 3},
                                                {0.1 / 3, 0.1 / 3, 0.9 + 0.1 / 3}},
                                               torch::kFloat);
  EXPECT_TRUE(torch::allclose(mixed.targets, expected)) << mixed.targets;
}

TEST(MixTest, MixupBlendsWithTheReversedBatch) {
  const torch::Tensor images = torch::randn({5, 3, 6, 7});
  const torch::Tensor before = images.clone();
  const torch::Tensor labels = labels_of({0, 1, 2, 3, 4});
  const MixedBatch mixed = mix_batch(images, labels, 5, 0.4, 0, 0, 9);
  EXPECT_TRUE(torch::equal(images, before)) << "the input was modified";
  const double lambda = mixed.targets[0][0].item<double>();
  EXPECT_GT(lambda, 0);
  EXPECT_LT(lambda, 1);
  EXPECT_NEAR(mixed.targets[0][4].item<double>(), 1 - lambda, 1e-6);
  EXPECT_NEAR(mixed.targets[2][2].item<double>(), 1, 1e-6);  // the middle sample mixes with itself
  EXPECT_TRUE(
      torch::allclose(mixed.images, lambda * images + (1 - lambda) * images.flip(0), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(mixed.targets.sum(1), torch::ones({5}), 1e-6, 1e-6));
}

TEST(MixTest, CutmixPastedAreaMatchesLambda) {
  const int64_t batch = 4, height = 24, width = 30;
  const torch::Tensor images = constant_images(batch, height, width);
  const torch::Tensor labels = labels_of({0, 1, 2, 3});
  int boxes_inside_and_clipped = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    const MixDraw draw = draw_mix(height, width, 0, 1.0, seed);
    ASSERT_TRUE(draw.cutmix);
    const MixedBatch mixed = mix_batch(images, labels, 4, 0, 1.0, 0.2, seed);
    ASSERT_TRUE(torch::allclose(mixed.targets.sum(1), torch::ones({batch}), 1e-6, 1e-6));
    const int64_t area = (draw.bottom - draw.top) * (draw.right - draw.left);
    boxes_inside_and_clipped += area > 0 && area < height * width;
    for (int64_t b = 0; b < batch; ++b) {
      const double from_partner = mixed.images[b]
                                      .eq(static_cast<double>(batch - b))
                                      .to(torch::kDouble)
                                      .mean()
                                      .item<double>();
      const double own =
          mixed.images[b].eq(static_cast<double>(b + 1)).to(torch::kDouble).mean().item<double>();
      ASSERT_NEAR(from_partner, 1 - draw.lambda, 1e-12) << "seed " << seed;
      ASSERT_NEAR(own, draw.lambda, 1e-12) << "seed " << seed;
      // Smoothed targets: lambda on the own label, 1 - lambda on the partner's, plus 0.2 / 4.
      ASSERT_NEAR(mixed.targets[b][b].item<double>(), 0.8 * draw.lambda + 0.05, 1e-6);
      ASSERT_NEAR(mixed.targets[b][batch - 1 - b].item<double>(), 0.8 * (1 - draw.lambda) + 0.05,
                  1e-6);
    }
  }
  EXPECT_GT(boxes_inside_and_clipped, 20);
}

TEST(MixTest, SeedsReproduceAndBothModesOccur) {
  const torch::Tensor images = torch::randn({6, 3, 10, 10});
  const torch::Tensor labels = labels_of({0, 1, 2, 0, 1, 2});
  int cutmixes = 0;
  std::set<double> lambdas;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    const MixedBatch a = mix_batch(images, labels, 3, 0.2, 1.0, 0.1, seed);
    const MixedBatch b = mix_batch(images, labels, 3, 0.2, 1.0, 0.1, seed);
    ASSERT_TRUE(torch::equal(a.images, b.images));
    ASSERT_TRUE(torch::equal(a.targets, b.targets));
    const MixDraw draw = draw_mix(10, 10, 0.2, 1.0, seed);
    cutmixes += draw.cutmix;
    lambdas.insert(draw.lambda);
  }
  EXPECT_GT(cutmixes, 30);
  EXPECT_LT(cutmixes, 70);
  EXPECT_GT(lambdas.size(), 50u);
}

TEST(MixTest, BetaSamplerHasTheRightMoments) {
  // Beta(a, a): mean 1/2, variance 1 / (4 (2a + 1)), from 0.18 (a = 0.2) down to 0.036 (a = 3),
  // checked to 3% of itself: an absolute tolerance would not see a = 3's variance off by 28%.
  // The sample variance's relative standard error is sqrt((kurtosis - 1) / n), at most 0.58%
  // here (a = 3, kurtosis 7/3): 3% is over 5 standard errors, so a correct sampler passes with
  // any seed (but about one in 10^7), and the seed is fixed anyway.
  for (const double alpha : {0.2, 1.0, 3.0}) {
    SplitMix64 rng(static_cast<uint64_t>(alpha * 1000));
    const int n = 40000;
    double sum = 0, sum_squares = 0;
    for (int i = 0; i < n; ++i) {
      const double x = sample_symmetric_beta(alpha, rng);
      ASSERT_GE(x, 0);
      ASSERT_LE(x, 1);
      sum += x;
      sum_squares += x * x;
    }
    const double mean = sum / n, variance = sum_squares / n - mean * mean;
    EXPECT_NEAR(mean, 0.5, 0.01) << "alpha " << alpha;
    const double expected_variance = 1.0 / (4 * (2 * alpha + 1));
    EXPECT_NEAR(variance, expected_variance, 0.03 * expected_variance) << "alpha " << alpha;
  }
  SplitMix64 rng(1);
  const double tiny = sample_symmetric_beta(1e-3, rng);  // almost always 0 or 1, never NaN
  EXPECT_TRUE(tiny >= 0 && tiny <= 1) << tiny;
}

TEST(MixTest, SoftTargetLossEqualsTorchCrossEntropyOnOneHots) {
  torch::manual_seed(3);
  const torch::Tensor logits = torch::randn({7, 4}) * 3;
  const torch::Tensor labels = labels_of({0, 3, 3, 1, 2, 0, 3});
  const torch::Tensor weights = torch::tensor({0.5, 2.0, 1.0, 3.0}, torch::kFloat);
  namespace F = torch::nn::functional;
  const torch::Tensor one_hot = smoothed_one_hot(labels, 4, 0);
  EXPECT_NEAR(soft_target_cross_entropy(logits, one_hot).item<double>(),
              F::cross_entropy(logits, labels).item<double>(), 1e-5);
  EXPECT_NEAR(
      soft_target_cross_entropy(logits, one_hot, weights).item<double>(),
      F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().weight(weights)).item<double>(),
      1e-5);
  EXPECT_NEAR(soft_target_cross_entropy(logits, smoothed_one_hot(labels, 4, 0.1)).item<double>(),
              F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().label_smoothing(0.1))
                  .item<double>(),
              1e-5);
  // Gradients flow to the logits.
  const torch::Tensor trainable = logits.clone().requires_grad_(true);
  soft_target_cross_entropy(trainable, one_hot, weights).backward();
  EXPECT_GT(trainable.grad().abs().sum().item<double>(), 0);
  EXPECT_NE(testing_support::error_of([&] {
              soft_target_cross_entropy(logits, one_hot, torch::ones({3}));
            }).find("class weights must be a 1-d tensor of 4"),
            std::string::npos);
}

}  // namespace
}  // namespace nxt
