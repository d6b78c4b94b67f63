// Tests the data pipeline on real packed files made here: the reader's access paths and its
// errors, augmentation on known images, on-device normalisation, and the epoch loader's
// shapes, determinism and mid-epoch resume, with the shard, the class-balanced (on a 10:1
// imbalanced file) and the repeated-augmentation sampler, and the per-class counts and weights
// of a split; on version 2 files (raw, JPEG, mixed), the same properties and read-ahead.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <numeric>
#include <set>

#include "aspect_fixture.h"
#include "data/augment.h"
#include "data/class_balance.h"
#include "data/dataset_format.h"
#include "data/image_reader.h"
#include "data/loader.h"
#include "data/node_copy.h"
#include "data/normalize.h"
#include "data/stored_sample.h"
#include "loader_support.h"
#include "packed_fixture.h"
#include "test_support.h"

namespace nxt {

using testing_support::drain;

namespace {

namespace fs = std::filesystem;
using testing_support::error_of;

class LoaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing_support::TempDir("loader");
    testing_support::make_demo_pack(dir_->path("images"), plain());
    testing_support::DemoPack compressed;
    compressed.compress = true;
    testing_support::make_demo_pack(dir_->path("images"), dir_->path("compressed.h5"), compressed);
    make_imbalanced_pack();
  }
  // The demo images with the last class cut to a tenth: a 10:1 imbalance.
  static void make_imbalanced_pack() {
    std::vector<fs::path> class_folders;
    for (const auto& entry : fs::directory_iterator(dir_->path("images")))
      if (entry.is_directory()) class_folders.push_back(entry.path());
    std::sort(class_folders.begin(), class_folders.end());
    for (const fs::path& folder : class_folders) {
      std::vector<fs::path> files;
      for (const auto& entry : fs::directory_iterator(folder)) files.push_back(entry.path());
      std::sort(files.begin(), files.end());
      if (folder == class_folders.back()) files.resize(files.size() / 10);
      const fs::path target = fs::path(dir_->path("imbalanced")) / folder.filename();
      fs::create_directories(target);
      for (const fs::path& file : files) fs::copy_file(file, target / file.filename());
    }
    PackOptions o;
    o.input = dir_->path("imbalanced");
    o.output = imbalanced();
    o.height = o.width = testing_support::DemoPack().image_size;
    o.progress = false;
    pack_image_folder(o);
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string plain() { return dir_->path("plain.h5"); }
  static std::string imbalanced() { return dir_->path("imbalanced.h5"); }
  static std::string path(const std::string& name) { return dir_->path(name); }

  static LoaderOptions options(bool training) {
    LoaderOptions o;
    o.batch_size = 8;
    o.output = {40, 40};
    o.training = training;
    o.augment.hflip = true;
    o.augment.crop = CropMode::kRandomResized;
    o.seed = 11;
    o.threads = 2;
    return o;
  }
  static testing_support::TempDir* dir_;
};
testing_support::TempDir* LoaderTest::dir_ = nullptr;

std::vector<uint8_t> image_of(const ImageReader& reader, int64_t index) {
  std::vector<uint8_t> pixels(static_cast<size_t>(reader.shape(index).bytes()));
  reader.read(index, pixels.data());
  return pixels;
}

TEST_F(LoaderTest, AccessPathsReadTheSameBytes) {
  const PackedDataset plain_set(plain()), compressed_set(path("compressed.h5"));
  ImageReader direct(plain_set, "train"), hdf5(compressed_set, "train"), copied(plain_set, "train");
  // The node copy of every image (data/node_copy.h), this process its writer.
  std::vector<int64_t> all(static_cast<size_t>(copied.size()));
  std::iota(all.begin(), all.end(), 0);
  NodeCopyOptions copy_options;
  copy_options.dir = path("node_copy");
  copy_options.writer = true;
  fs::create_directories(copy_options.dir);
  copied.use_node_copy(std::make_shared<const NodeCopy>(copied, all, copy_options));
  EXPECT_STREQ(direct.access_path(), "direct");
  EXPECT_STREQ(hdf5.access_path(), "hdf5");
  EXPECT_STREQ(copied.access_path(), "direct + node copy");
  ASSERT_GT(direct.size(), 50);
  std::vector<uint8_t> via_dataset(static_cast<size_t>(plain_set.image_bytes()));
  for (int64_t i = 0; i < direct.size(); ++i) {
    plain_set.read_image("train", i, via_dataset.data());
    const auto bytes = image_of(direct, i);
    ASSERT_EQ(bytes, via_dataset) << "image " << i;
    ASSERT_EQ(bytes, image_of(hdf5, i)) << "image " << i;
    ASSERT_EQ(bytes, image_of(copied, i)) << "image " << i;
  }
}

TEST_F(LoaderTest, ReaderErrorsNameTheFileAndTheProblem) {
  // Truncated: the chunks past the cut are found on open.
  fs::copy_file(plain(), path("cut.h5"), fs::copy_options::overwrite_existing);
  fs::resize_file(path("cut.h5"), fs::file_size(plain()) * 6 / 10);
  const std::string cut = error_of([&] {
    PackedDataset dataset(path("cut.h5"));
    ImageReader reader(dataset, "train");
    ImageReader val_reader(dataset, "val");
  });
  EXPECT_NE(cut.find(path("cut.h5")), std::string::npos) << cut;
  EXPECT_TRUE(cut.find("truncated") != std::string::npos ||
              cut.find("corrupt") != std::string::npos)
      << cut;
  // Another HDF5 file.
  {
    h5::Handle file = h5::create_file(path("other.h5"));
    h5::write_attribute(file, format::kAttrFormat, std::string("something-else"));
  }
  const std::string other = error_of([&] { PackedDataset dataset(path("other.h5")); });
  EXPECT_NE(other.find("not an nxt dataset"), std::string::npos) << other;
  // A dataset missing from a good file.
  fs::copy_file(plain(), path("nolabels.h5"), fs::copy_options::overwrite_existing);
  {
    h5::Handle file(H5Fopen(path("nolabels.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    ASSERT_GE(H5Ldelete(file, "train/labels", H5P_DEFAULT), 0);
  }
  const std::string missing = error_of([&] { PackedDataset dataset(path("nolabels.h5")); });
  EXPECT_NE(missing.find("train/labels"), std::string::npos) << missing;
  EXPECT_NE(missing.find(path("nolabels.h5")), std::string::npos) << missing;
}

// A 6x8 image whose pixel (y, x) is (y, x, y * 8 + x).
std::vector<uint8_t> known_image(ImageShape shape) {
  std::vector<uint8_t> pixels(static_cast<size_t>(shape.bytes()));
  for (int64_t y = 0; y < shape.height; ++y)
    for (int64_t x = 0; x < shape.width; ++x) {
      uint8_t* p = &pixels[static_cast<size_t>((y * shape.width + x) * 3)];
      p[0] = static_cast<uint8_t>(y + 1);
      p[1] = static_cast<uint8_t>(x + 1);
      p[2] = static_cast<uint8_t>(y * shape.width + x + 1);
    }
  return pixels;
}

const uint8_t* pixel(const std::vector<uint8_t>& image, ImageShape shape, int64_t y, int64_t x) {
  return &image[static_cast<size_t>((y * shape.width + x) * 3)];
}

TEST(Augment, FlipMirrorsTheColumnsOrLeavesTheImage) {
  const ImageShape shape{6, 8};
  const auto original = known_image(shape);
  AugmentOptions options;
  options.hflip = true;
  int flipped = 0, kept = 0;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    auto image = original;
    SplitMix64 rng(seed);
    random_flip(image.data(), shape, options, rng);
    if (image == original) {
      ++kept;
      continue;
    }
    ++flipped;
    for (int64_t y = 0; y < shape.height; ++y)
      for (int64_t x = 0; x < shape.width; ++x)
        ASSERT_EQ(0, std::memcmp(pixel(image, shape, y, x),
                                 pixel(original, shape, y, shape.width - 1 - x), 3));
  }
  EXPECT_GT(flipped, 16);
  EXPECT_GT(kept, 16);
  options.hflip = false;
  auto image = original;
  SplitMix64 rng(1);
  for (int i = 0; i < 16; ++i) random_flip(image.data(), shape, options, rng);
  EXPECT_EQ(image, original);
}

TEST(Augment, PadCropIsAShiftedWindowOfThePaddedImage) {
  const ImageShape shape{6, 8};
  const auto original = known_image(shape);
  AugmentOptions options;
  options.crop = CropMode::kPad;
  options.crop_padding = 2;
  std::set<std::pair<int, int>> shifts;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    std::vector<uint8_t> out(static_cast<size_t>(shape.bytes()));
    SplitMix64 rng(seed);
    augment_for_training(original.data(), shape, out.data(), shape, options, rng);
    // Find the shift from any non-zero pixel, then check every pixel against it.
    int dy = 99, dx = 99;
    for (int64_t y = 0; y < shape.height && dy == 99; ++y)
      for (int64_t x = 0; x < shape.width && dy == 99; ++x)
        if (pixel(out, shape, y, x)[0] != 0) {
          dy = pixel(out, shape, y, x)[0] - 1 - static_cast<int>(y);
          dx = pixel(out, shape, y, x)[1] - 1 - static_cast<int>(x);
        }
    ASSERT_TRUE(std::abs(dy) <= 2 && std::abs(dx) <= 2) << "seed " << seed;
    shifts.insert({dy, dx});
    for (int64_t y = 0; y < shape.height; ++y)
      for (int64_t x = 0; x < shape.width; ++x) {
        const int64_t sy = y + dy, sx = x + dx;
        const bool inside = sy >= 0 && sy < shape.height && sx >= 0 && sx < shape.width;
        const uint8_t zero[3] = {0, 0, 0};
        ASSERT_EQ(0, std::memcmp(pixel(out, shape, y, x),
                                 inside ? pixel(original, shape, sy, sx) : zero, 3));
      }
  }
  EXPECT_EQ(shifts.size(), 25u) << "every shift in [-2, 2]^2 should occur";
}

TEST(Augment, RandomResizedWindowsStayInsideWithTorchvisionRanges) {
  const ImageShape shape{40, 60};
  SplitMix64 rng(3);
  for (int i = 0; i < 500; ++i) {
    const CropWindow w = random_resized_window(shape, 0.25, rng);
    ASSERT_TRUE(w.top >= 0 && w.left >= 0 && w.top + w.height <= shape.height &&
                w.left + w.width <= shape.width);
    const double area = double(w.height * w.width) / double(shape.height * shape.width);
    const double aspect = double(w.width) / double(w.height);
    EXPECT_GE(area, 0.2);
    EXPECT_LE(area, 1.0);
    EXPECT_TRUE(aspect > 0.7 && aspect < 1.4) << aspect;
  }
  // Output has the requested size; a constant image stays constant.
  const ImageShape out{24, 24};
  std::vector<uint8_t> flat(static_cast<size_t>(shape.bytes()), 77), result(out.bytes());
  AugmentOptions options;
  options.crop = CropMode::kRandomResized;
  augment_for_training(flat.data(), shape, result.data(), out, options, rng);
  EXPECT_EQ(result, std::vector<uint8_t>(static_cast<size_t>(out.bytes()), 77));
}

TEST_F(LoaderTest, NormalizationWithDatasetStatsGivesZeroMeanUnitStd) {
  const PackedDataset dataset(plain());
  const ImageReader reader(dataset, "train");
  LoaderOptions o = options(false);
  o.batch_size = 1000;  // the whole split in one batch
  EpochLoader loader(reader, o, 0);
  const Batch batch = *loader.next();
  const Normalizer normalize(dataset.mean(), dataset.stddev(), torch::kCPU);
  const torch::Tensor x = normalize(batch.images);
  ASSERT_EQ(x.sizes(), (std::vector<int64_t>{reader.size(), 3, 40, 40}));
  const torch::Tensor mean = x.mean({0, 2, 3}), stddev = x.std({0, 2, 3});
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(mean[c].item<double>(), 0.0, 1e-3) << "channel " << c;
    EXPECT_NEAR(stddev[c].item<double>(), 1.0, 1e-3) << "channel " << c;
  }
  // ImageNet's constants: the same formula, other numbers.
  const Normalizer imagenet(kImageNetMean, kImageNetStd, torch::kCPU);
  const double first = (batch.images[0][0][0][0].item<double>() / 255.0 - 0.485) / 0.229;
  EXPECT_NEAR(imagenet(batch.images)[0][0][0][0].item<double>(), first, 1e-5);
}

TEST_F(LoaderTest, EvalLoaderVisitsEachSampleOnceWithItsLabel) {
  const PackedDataset dataset(plain());
  const ImageReader reader(dataset, "val");
  std::multiset<int64_t> seen;
  for (int rank = 0; rank < 3; ++rank) {
    LoaderOptions o = options(false);
    o.shard = {rank, 3};
    EpochLoader loader(reader, o, 0);
    int64_t row = 0;
    for (const Batch& batch : drain(loader)) {
      EXPECT_LE(batch.images.size(0), 8);
      for (int64_t k = 0; k < batch.labels.size(0); ++k, ++row) {
        const int64_t index = loader.indices()[static_cast<size_t>(row)];
        seen.insert(index);
        EXPECT_EQ(batch.labels[k].item<int64_t>(), reader.label(index));
        EXPECT_EQ(0, std::memcmp(batch.images[k].data_ptr<uint8_t>(),
                                 image_of(reader, index).data(), reader.dataset().image_bytes()));
      }
    }
    EXPECT_EQ(row, loader.samples());
  }
  EXPECT_EQ(static_cast<int64_t>(seen.size()), reader.size());
  EXPECT_EQ(static_cast<int64_t>(std::set<int64_t>(seen.begin(), seen.end()).size()),
            reader.size());
}

void expect_same_batches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].sample_indices, b[i].sample_indices);
    EXPECT_EQ(a[i].sample_positions, b[i].sample_positions);
    EXPECT_TRUE(torch::equal(a[i].images, b[i].images)) << "batch " << i;
    EXPECT_TRUE(torch::equal(a[i].labels, b[i].labels)) << "batch " << i;
  }
}

TEST_F(LoaderTest, ResumingAtStepKRepeatsTheRestOfTheEpoch) {
  const PackedDataset dataset(plain());
  const ImageReader reader(dataset, "train");
  const LoaderOptions o = options(true);
  EpochLoader full(reader, o, 2);
  std::vector<Batch> all = drain(full);
  ASSERT_GE(all.size(), 5u);
  EpochLoader resumed(reader, o, 2, 3 * o.batch_size * o.shard.world);
  expect_same_batches(std::vector<Batch>(all.begin() + 3, all.end()), drain(resumed));
  // The thread count does not change the batches either.
  LoaderOptions one_thread = o;
  one_thread.threads = 1;
  EpochLoader serial(reader, one_thread, 2);
  expect_same_batches(all, drain(serial));
  // Another epoch is another order.
  EpochLoader next_epoch(reader, o, 3);
  EXPECT_FALSE(torch::equal(all[0].labels, next_epoch.next()->labels) &&
               torch::equal(all[0].images, EpochLoader(reader, o, 3).next()->images));
}

// What a rank visits at a global position of the epoch: the sample and its augmented pixels.
struct Visit {
  int64_t index = -1;
  torch::Tensor image;
};

// Runs `world` ranks' loaders of `epoch` from global position `start`, each for at most
// `max_batches`, recording every visit by position; returns the positions consumed.
int64_t visit_epoch(const ImageReader& reader, const LoaderOptions& options, int64_t epoch,
                    int world, int64_t start, int64_t max_batches,
                    std::map<int64_t, Visit>& visits) {
  int64_t taken = 0;
  for (int r = 0; r < world; ++r) {
    LoaderOptions ranked = options;
    ranked.shard = {r, world};
    EpochLoader loader(reader, ranked, epoch, start);
    int64_t mine = 0;
    for (int64_t i = 0; i < max_batches; ++i) {
      std::optional<Batch> b = loader.next();
      if (!b) break;
      for (size_t k = 0; k < b->sample_positions.size(); ++k) {
        const auto row = static_cast<int64_t>(k);
        EXPECT_EQ(b->labels[row].item<int64_t>(), reader.label(b->sample_indices[k]));
        EXPECT_TRUE(
            visits.emplace(b->sample_positions[k], Visit{b->sample_indices[k], b->images[row]})
                .second)
            << "position " << b->sample_positions[k] << " visited twice";
      }
      mine += static_cast<int64_t>(b->sample_positions.size());
    }
    taken = std::max(taken, mine);
  }
  return positions_consumed(start, taken, world);
}

// Note [World-size-independent epochs]: 2 ranks stop after 2 steps; the rest of the epoch on 3
// ranks visits exactly the remaining positions, each with the sample and the augmented pixels
// of a 1-rank epoch (augmentation follows the global position, not the rank); the padding
// repeats the head. `sequence` gets the epoch's sample per position.
void expect_resharded_epoch_equals_one_rank(const ImageReader& reader, LoaderOptions options,
                                            int64_t epoch, std::vector<int64_t>& sequence) {
  const int64_t n = reader.size(), everything = 1 << 20;
  std::map<int64_t, Visit> single, resharded;
  visit_epoch(reader, options, epoch, 1, 0, everything, single);
  ASSERT_EQ(static_cast<int64_t>(single.size()), n);
  const int64_t consumed = visit_epoch(reader, options, epoch, 2, 0, 2, resharded);
  EXPECT_EQ(consumed, 2 * options.batch_size * 2);
  ASSERT_LT(consumed, n);
  visit_epoch(reader, options, epoch, 3, consumed, everything, resharded);
  EXPECT_LT(static_cast<int64_t>(resharded.size()), n + 3);  // padding to a multiple of 3
  sequence.clear();
  for (int64_t p = 0; p < n; ++p) {
    ASSERT_TRUE(resharded.count(p)) << "position " << p << " was never visited";
    EXPECT_EQ(resharded.at(p).index, single.at(p).index) << "position " << p;
    EXPECT_TRUE(torch::equal(single.at(p).image, resharded.at(p).image)) << "position " << p;
    sequence.push_back(single.at(p).index);
  }
  for (auto it = resharded.lower_bound(n); it != resharded.end(); ++it)
    EXPECT_EQ(it->second.index, single.at(it->first % n).index) << "padding " << it->first;
}

TEST_F(LoaderTest, TheRestOfAnEpochReshardsOverAnotherWorldSize) {
  const PackedDataset dataset(plain());
  const ImageReader reader(dataset, "train");
  std::vector<int64_t> sequence;
  expect_resharded_epoch_equals_one_rank(reader, options(true), 4, sequence);
  // The shard sampler: every sample once.
  EXPECT_EQ(static_cast<int64_t>(std::set<int64_t>(sequence.begin(), sequence.end()).size()),
            reader.size());
}

TEST_F(LoaderTest, TheBalancedSamplerDrawsClassesEquallyAndReshardsExactly) {
  const PackedDataset dataset(imbalanced());
  const ImageReader reader(dataset, "train");
  const std::vector<int64_t> counts = images_per_class(reader);
  ASSERT_EQ(counts.size(), 3u);
  ASSERT_GE(counts[0], 8 * counts[2]) << "the fixture is not imbalanced";
  ASSERT_GE(counts[2], 1);
  LoaderOptions o = options(true);
  o.sampler = SamplerKind::kBalanced;
  for (int64_t epoch : {0, 1}) {
    std::vector<int64_t> sequence;
    expect_resharded_epoch_equals_one_rank(reader, o, epoch, sequence);
    EXPECT_EQ(sequence, balanced_sequence(reader.labels(), o.seed, epoch));
    std::vector<int64_t> draws(3, 0);
    for (int64_t index : sequence) ++draws[static_cast<size_t>(reader.label(index))];
    for (int64_t c = 0; c < 3; ++c) {
      EXPECT_GE(draws[c], reader.size() / 3) << "class " << c;
      EXPECT_LE(draws[c], reader.size() / 3 + 1) << "class " << c;
    }
  }
  // Another sampler is another epoch; evaluation ignores the sampler.
  LoaderOptions shard = o;
  shard.sampler = SamplerKind::kShard;
  EXPECT_NE(EpochLoader(reader, o, 0).indices(), EpochLoader(reader, shard, 0).indices());
  LoaderOptions eval = options(false), balanced_eval = eval;
  balanced_eval.sampler = SamplerKind::kBalanced;
  EXPECT_EQ(EpochLoader(reader, eval, 0).indices(),
            EpochLoader(reader, balanced_eval, 0).indices());
}

// Note [Repeated augmentation] (data/sampler.h): the repeated sampler's epoch reshards exactly
// like the others; on 3 ranks the 3 copies of each drawn sample are on 3 ranks, and their
// augmented pixels (seeded by position) differ pairwise.
TEST_F(LoaderTest, RepeatedAugmentationCopiesAreAugmentedDifferentlyOnDifferentRanks) {
  const PackedDataset dataset(plain());
  const ImageReader reader(dataset, "train");
  LoaderOptions o = options(true);
  o.sampler = SamplerKind::kRepeated;
  o.repeats = 3;
  std::vector<int64_t> sequence;
  expect_resharded_epoch_equals_one_rank(reader, o, 2, sequence);
  EXPECT_EQ(sequence, repeated_sequence(reader.size(), o.seed, 2, 3));
  const int world = 3;
  std::map<int64_t, std::vector<std::pair<int, torch::Tensor>>> copies;  // index -> (rank, image)
  for (int r = 0; r < world; ++r) {
    LoaderOptions ranked = o;
    ranked.shard = {r, world};
    EpochLoader loader(reader, ranked, 2);
    for (const Batch& batch : drain(loader))
      for (size_t k = 0; k < batch.sample_indices.size(); ++k)
        if (batch.sample_positions[k] < reader.size())  // not the padding
          copies[batch.sample_indices[k]].push_back({r, batch.images[static_cast<int64_t>(k)]});
  }
  int64_t full_groups = 0;
  for (const auto& [index, visits] : copies) {
    if (visits.size() < 3) continue;  // the cut last group
    ASSERT_EQ(visits.size(), 3u) << "sample " << index;
    ++full_groups;
    std::set<int> ranks;
    for (size_t a = 0; a < visits.size(); ++a) {
      ranks.insert(visits[a].first);
      for (size_t b = a + 1; b < visits.size(); ++b)
        EXPECT_FALSE(torch::equal(visits[a].second, visits[b].second))
            << "sample " << index << ": two copies got the same augmented pixels";
    }
    EXPECT_EQ(ranks.size(), 3u) << "sample " << index << ": copies share a rank";
  }
  EXPECT_EQ(full_groups, reader.size() / 3);
}

TEST_F(LoaderTest, ClassCountsAndWeightsOfASplit) {
  const PackedDataset dataset(imbalanced());
  for (const std::string split : {"train", "val"}) {
    const ImageReader reader(dataset, split);
    const std::vector<int64_t> counts = images_per_class(reader);
    ASSERT_EQ(static_cast<int64_t>(counts.size()), dataset.num_classes());
    EXPECT_EQ(std::accumulate(counts.begin(), counts.end(), int64_t{0}), reader.size());
    for (int64_t c = 0; c < dataset.num_classes(); ++c)
      EXPECT_EQ(counts[c], std::count(reader.labels().begin(), reader.labels().end(), c));
  }
  const auto weights = balanced_class_weights(images_per_class(ImageReader(dataset, "train")));
  EXPECT_GT(weights[2], 5 * weights[0]) << "the minority class weighs more";
}

TEST_F(LoaderTest, TrainingBatchesAreAugmentedEvalBatchesAreNot) {
  const PackedDataset dataset(plain());
  const ImageReader reader(dataset, "train");
  LoaderOptions train = options(true);
  EpochLoader loader(reader, train, 0);
  const Batch batch = *loader.next();
  int differing = 0;
  for (int64_t k = 0; k < batch.images.size(0); ++k)
    differing += std::memcmp(batch.images[k].data_ptr<uint8_t>(),
                             image_of(reader, loader.indices()[k]).data(),
                             reader.dataset().image_bytes()) != 0;
  EXPECT_GT(differing, 0);
  // A different output size is honoured on both paths.
  for (bool training : {true, false}) {
    LoaderOptions small = options(training);
    small.output = {24, 32};
    EpochLoader resized(reader, small, 0);
    EXPECT_EQ(resized.next()->images.sizes(), (std::vector<int64_t>{8, 24, 32, 3}));
  }
}

// ---- Version 2 files: each image at its own aspect ratio, raw, JPEG or mixed ----

class AspectLoaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing_support::TempDir("aspect_loader");
    testing_support::AspectFolder spec;
    spec.per_class = 14;
    testing_support::make_aspect_folder(dir_->path("images"), spec);
    for (const std::string& store : stores())
      testing_support::pack_aspect(dir_->path("images"), file(store), store);
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::vector<std::string> stores() { return {"raw", "jpeg", "mixed"}; }
  static std::string file(const std::string& store) { return dir_->path(store + ".h5"); }
  static LoaderOptions options(bool training) {
    LoaderOptions o;
    o.batch_size = 5;
    o.output = {32, 32};
    o.training = training;
    o.augment.crop = CropMode::kRandomResized;
    o.augment.hflip = true;
    o.augment.color_jitter = 0.2;
    o.seed = 4;
    o.threads = 3;
    return o;
  }
  static testing_support::TempDir* dir_;
};
testing_support::TempDir* AspectLoaderTest::dir_ = nullptr;

TEST_F(AspectLoaderTest, BatchesHaveTheOutputShapeAndLabelsWhateverTheThreads) {
  for (const std::string& store : stores()) {
    const PackedDataset dataset(file(store));
    const ImageReader reader(dataset, "train");
    ASSERT_FALSE(reader.fixed_shape()) << store;
    int jpeg = 0;
    for (int64_t i = 0; i < reader.size(); ++i)
      jpeg += reader.stored(i).encoding == format::Encoding::kJpeg;
    if (store == "mixed") EXPECT_TRUE(jpeg > 0 && jpeg < reader.size()) << jpeg;
    for (const CropMode crop : {CropMode::kRandomResized, CropMode::kNone, CropMode::kPad}) {
      LoaderOptions o = options(true);
      o.augment.crop = crop;
      o.output = crop == CropMode::kRandomResized ? ImageShape{32, 32} : ImageShape{24, 40};
      EpochLoader loader(reader, o, 1);
      const std::vector<Batch> batches = drain(loader);
      ASSERT_EQ(static_cast<int64_t>(batches.size()), loader.steps()) << store;
      int64_t row = 0;
      for (const Batch& batch : batches) {
        const int64_t count = batch.labels.size(0);
        EXPECT_EQ(batch.images.sizes(),
                  (std::vector<int64_t>{count, o.output.height, o.output.width, 3}));
        for (int64_t k = 0; k < count; ++k, ++row) {
          EXPECT_EQ(batch.sample_indices[static_cast<size_t>(k)],
                    loader.indices()[static_cast<size_t>(row)]);
          EXPECT_EQ(batch.labels[k].item<int64_t>(),
                    reader.label(batch.sample_indices[static_cast<size_t>(k)]));
          EXPECT_GT(batch.images[k].to(torch::kFloat).std().item<double>(), 5.0)
              << store << ": sample " << row << " is flat";
        }
      }
      EXPECT_EQ(row, reader.size());
      LoaderOptions serial = o;
      serial.threads = 1;
      EpochLoader one_thread(reader, serial, 1);
      expect_same_batches(batches, drain(one_thread));
    }
  }
}

TEST_F(AspectLoaderTest, AResumedLoaderYieldsTheSameLaterBatches) {
  for (const std::string& store : stores()) {
    const PackedDataset dataset(file(store));
    const ImageReader reader(dataset, "train");
    const LoaderOptions o = options(true);
    EpochLoader full(reader, o, 3);
    const std::vector<Batch> all = drain(full);
    ASSERT_GE(all.size(), 4u) << store;
    EpochLoader resumed(reader, o, 3, 2 * o.batch_size);
    expect_same_batches(std::vector<Batch>(all.begin() + 2, all.end()), drain(resumed));
    // Another epoch draws other windows.
    EpochLoader next_epoch(reader, o, 4);
    EXPECT_FALSE(torch::equal(all[0].images, next_epoch.next()->images)) << store;
  }
}

// Evaluation is prepare_stored_for_eval at round(32 / 0.875) = 37 (or eval_resize_shorter),
// on any number of threads.
TEST_F(AspectLoaderTest, EvalBatchesAreResizeAndCenterCropOnAnyThreads) {
  for (const std::string& store : stores()) {
    const PackedDataset dataset(file(store));
    const ImageReader reader(dataset, "val");
    for (const int64_t resize_shorter : {int64_t{0}, int64_t{48}}) {
      LoaderOptions o = options(false);
      o.eval_crop_ratio = 0.875;
      o.eval_resize_shorter = resize_shorter;
      EpochLoader loader(reader, o, 0);
      const std::vector<Batch> batches = drain(loader);
      SampleBuffers buffers;
      std::vector<uint8_t> expected(static_cast<size_t>(o.output.bytes()));
      int64_t row = 0;
      for (const Batch& batch : batches)
        for (int64_t k = 0; k < batch.labels.size(0); ++k, ++row) {
          const int64_t index = batch.sample_indices[static_cast<size_t>(k)];
          prepare_stored_for_eval(reader, index, expected.data(), o.output,
                                  resize_shorter == 0 ? 37 : resize_shorter, buffers);
          ASSERT_EQ(
              0, std::memcmp(batch.images[k].data_ptr<uint8_t>(), expected.data(), expected.size()))
              << store << ": image " << index << ", shorter side " << resize_shorter;
        }
      EXPECT_EQ(row, reader.size());
      LoaderOptions serial = o;
      serial.threads = 1;
      EpochLoader one_thread(reader, serial, 0);
      expect_same_batches(batches, drain(one_thread));
    }
  }
  const PackedDataset dataset(file("raw"));
  const ImageReader reader(dataset, "val");
  LoaderOptions small = options(false);
  small.eval_resize_shorter = 30;
  EXPECT_NE(error_of([&] { EpochLoader loader(reader, small, 0); })
                .find("the evaluation resize (shorter side 30) is smaller than the 32x32 centre "
                      "crop"),
            std::string::npos);
}

// Read-ahead is advice: the batches are those of a loader without it, and every image of the
// epoch is asked for once (the first K batches by the constructor, batch s + K by batch s).
TEST_F(AspectLoaderTest, ReadAheadAsksForEveryImageOnceAndChangesNoBatch) {
  for (const std::string& store : {std::string("raw"), std::string("mixed")}) {
    const PackedDataset dataset(file(store));
    const ImageReader reader(dataset, "train");
    LoaderOptions o = options(true);
    EpochLoader plain(reader, o, 2);
    const std::vector<Batch> expected = drain(plain);
    EXPECT_EQ(plain.images_read_ahead(), 0) << "read-ahead is off by default";
    for (const int64_t batches : {int64_t{1}, int64_t{3}, int64_t{100}}) {
      o.readahead_batches = batches;
      EpochLoader ahead(reader, o, 2);
      expect_same_batches(expected, drain(ahead));
      EXPECT_EQ(ahead.images_read_ahead(), ahead.samples()) << store << ", " << batches;
      EpochLoader resumed(reader, o, 2, 3 * o.batch_size);
      drain(resumed);
      EXPECT_EQ(resumed.images_read_ahead(), resumed.samples()) << store << ", " << batches;
    }
  }
}

}  // namespace
}  // namespace nxt
