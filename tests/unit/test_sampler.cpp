// Tests the distributed sampler: coverage and padding of the training shards over many
// (world, n), drop_last, disjoint and complete evaluation shards, and seeding; the balanced
// sampler's equal class counts on imbalanced labels; both samplers' world-size-independent
// epochs (the same property tests); the repeated-augmentation sampler's exact repeats, copies
// on distinct ranks and positions, and its world-size-independent epochs; and the balanced class
// weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <numeric>
#include <set>

#include "data/class_balance.h"
#include "data/sampler.h"
#include "test_support.h"

namespace nxt {
namespace {

// A training sampler under test: one rank's shard of an epoch from global position `start`.
using Sampler = std::function<std::vector<int64_t>(int64_t epoch, ShardSpec shard, bool drop_last,
                                                   int64_t start)>;

Sampler shard_sampler(int64_t n, uint64_t seed = 7) {
  return [=](int64_t epoch, ShardSpec shard, bool drop_last, int64_t start) {
    return train_shard(n, seed, epoch, shard, drop_last, start);
  };
}

Sampler balanced_sampler(std::vector<int32_t> labels, uint64_t seed = 7) {
  return [=](int64_t epoch, ShardSpec shard, bool drop_last, int64_t start) {
    return balanced_train_shard(labels, seed, epoch, shard, drop_last, start);
  };
}

Sampler repeated_sampler(int64_t n, int64_t repeats, uint64_t seed = 7) {
  return [=](int64_t epoch, ShardSpec shard, bool drop_last, int64_t start) {
    return repeated_train_shard(n, seed, epoch, repeats, shard, drop_last, start);
  };
}

std::vector<std::vector<int64_t>> all_train_shards(const Sampler& sampler, int world, int64_t epoch,
                                                   bool drop_last, int64_t start = 0) {
  std::vector<std::vector<int64_t>> shards;
  for (int r = 0; r < world; ++r) shards.push_back(sampler(epoch, {r, world}, drop_last, start));
  return shards;
}

// counts[c] samples of class c, in class order: {100, 10} is a 10:1 imbalance.
std::vector<int32_t> imbalanced_labels(const std::vector<int64_t>& counts) {
  std::vector<int32_t> labels;
  for (size_t c = 0; c < counts.size(); ++c) labels.insert(labels.end(), counts[c], int32_t(c));
  return labels;
}

TEST(Sampler, TrainShardsCoverEverySampleWithDocumentedPadding) {
  for (int world : {1, 2, 3, 4, 7, 8}) {
    for (int64_t n : {1, 2, 5, 7, 8, 9, 31, 100, 257}) {
      for (int64_t epoch : {0, 3}) {
        const auto shards = all_train_shards(shard_sampler(n), world, epoch, false);
        std::map<int64_t, int> seen;
        for (const auto& shard : shards) {
          ASSERT_EQ(static_cast<int64_t>(shard.size()), (n + world - 1) / world);
          for (int64_t i : shard) {
            ASSERT_TRUE(i >= 0 && i < n);
            ++seen[i];
          }
        }
        ASSERT_EQ(static_cast<int64_t>(seen.size()), n) << "world " << world << " n " << n;
        // Padding: total - n extra visits, and no sample visited more than ceil(total / n).
        const int64_t total = shards[0].size() * world;
        int extra = 0;
        for (const auto& [index, count] : seen) extra += count - 1;
        EXPECT_EQ(extra, total - n);
        for (const auto& [index, count] : seen) EXPECT_LE(count, (total + n - 1) / n);
      }
    }
  }
}

TEST(Sampler, PaddingRepeatsTheHeadOfThePermutation) {
  // Interleaving the shards back gives the padded permutation: its tail repeats its head.
  const int world = 4;
  const int64_t n = 10;
  const auto shards = all_train_shards(shard_sampler(n), world, 1, false);
  std::vector<int64_t> padded;
  for (size_t k = 0; k < shards[0].size(); ++k)
    for (int r = 0; r < world; ++r) padded.push_back(shards[r][k]);
  ASSERT_EQ(padded.size(), 12u);
  EXPECT_EQ(padded[10], padded[0]);
  EXPECT_EQ(padded[11], padded[1]);
}

TEST(Sampler, DropLastGivesEqualDisjointShards) {
  for (int world : {2, 3, 8}) {
    for (int64_t n : {8, 9, 31, 100}) {
      const auto shards = all_train_shards(shard_sampler(n), world, 2, true);
      std::set<int64_t> seen;
      for (const auto& shard : shards) {
        ASSERT_EQ(static_cast<int64_t>(shard.size()), n / world);
        for (int64_t i : shard) EXPECT_TRUE(seen.insert(i).second) << "repeated " << i;
      }
      EXPECT_EQ(static_cast<int64_t>(seen.size()), n / world * world);
    }
  }
}

TEST(Sampler, EvalShardsAreDisjointAndComplete) {
  for (int world : {1, 2, 3, 5, 8}) {
    for (int64_t n : {0, 1, 4, 7, 50, 101}) {
      std::vector<int64_t> all;
      for (int r = 0; r < world; ++r) {
        const auto shard = eval_shard(n, {r, world});
        EXPECT_TRUE(std::is_sorted(shard.begin(), shard.end()));
        all.insert(all.end(), shard.begin(), shard.end());
      }
      std::sort(all.begin(), all.end());
      std::vector<int64_t> expected(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) expected[i] = i;
      EXPECT_EQ(all, expected) << "world " << world << " n " << n;
    }
  }
}

TEST(Sampler, EpochsDifferAndSeedsRepeat) {
  const auto epoch0 = train_shard(100, 7, 0, {1, 3}, false);
  EXPECT_EQ(epoch0, train_shard(100, 7, 0, {1, 3}, false));
  EXPECT_NE(epoch0, train_shard(100, 7, 1, {1, 3}, false));
  EXPECT_NE(epoch0, train_shard(100, 8, 0, {1, 3}, false));
  std::vector<int64_t> sorted = epoch0;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_NE(epoch0, sorted) << "the training shard is not shuffled";
}

// Note [World-size-independent epochs]: after k samples per rank, the positions [0, k * world)
// are done; the rest of the epoch from there, on the same world, is each shard's tail, and on
// any other world it covers exactly the remaining positions, in sequence order.
void expect_the_rest_continues_on_any_world_size(const Sampler& sampler, int64_t n) {
  const auto sequence = sampler(2, {0, 1}, false, 0);  // the epoch's sequence
  ASSERT_EQ(static_cast<int64_t>(sequence.size()), n);
  for (int world : {1, 2, 3, 4}) {
    for (int64_t taken : {int64_t{0}, int64_t{1}, int64_t{3}}) {
      const int64_t start = positions_consumed(0, taken, world);
      if (start >= n) continue;
      for (int r = 0; r < world; ++r) {
        const auto full = sampler(2, {r, world}, false, 0);
        const auto rest = sampler(2, {r, world}, false, start);
        EXPECT_EQ(rest, std::vector<int64_t>(full.begin() + taken, full.end()));
      }
      for (int next_world : {1, 2, 3, 5}) {
        std::map<int64_t, int64_t> by_position;
        for (int r = 0; r < next_world; ++r) {
          const auto rest = sampler(2, {r, next_world}, false, start);
          EXPECT_EQ(static_cast<int64_t>(rest.size()),
                    train_shard_size(n, next_world, false, start));
          for (size_t k = 0; k < rest.size(); ++k)
            by_position[train_position(start, static_cast<int64_t>(k), {r, next_world})] = rest[k];
        }
        for (int64_t p = start; p < n; ++p)
          EXPECT_EQ(by_position.at(p), sequence[static_cast<size_t>(p)])
              << "n " << n << " world " << world << " -> " << next_world << " position " << p;
        EXPECT_LT(static_cast<int64_t>(by_position.size()), n - start + next_world);
      }
    }
  }
}

TEST(Sampler, TheRestOfAnEpochContinuesOnAnyWorldSize) {
  for (int64_t n : {12, 37, 90}) expect_the_rest_continues_on_any_world_size(shard_sampler(n), n);
}

TEST(BalancedSampler, TheRestOfAnEpochContinuesOnAnyWorldSize) {
  for (const std::vector<int64_t>& counts :
       {std::vector<int64_t>{10, 1, 1}, std::vector<int64_t>{30, 3, 4}, {80, 8, 2}}) {
    const auto labels = imbalanced_labels(counts);
    expect_the_rest_continues_on_any_world_size(balanced_sampler(labels),
                                                static_cast<int64_t>(labels.size()));
  }
}

// The epoch's sequence on a 10:1 imbalance: every class drawn n / C times (+-1), each draw of
// the right class, minority samples repeated evenly, majority samples at most once.
TEST(BalancedSampler, DrawsClassesEquallyFromImbalancedLabels) {
  for (const std::vector<int64_t>& counts :
       {std::vector<int64_t>{100, 10}, std::vector<int64_t>{200, 20, 20}, {7, 70, 700, 70}}) {
    const auto labels = imbalanced_labels(counts);
    const auto n = static_cast<int64_t>(labels.size());
    const auto classes = static_cast<int64_t>(counts.size());
    for (int64_t epoch : {0, 1, 5}) {
      const auto sequence = balanced_sequence(labels, 7, epoch);
      ASSERT_EQ(static_cast<int64_t>(sequence.size()), n);
      std::vector<int64_t> draws(counts.size(), 0);
      std::map<int64_t, int64_t> visits;
      for (int64_t index : sequence) {
        ASSERT_TRUE(index >= 0 && index < n);
        ++draws[static_cast<size_t>(labels[static_cast<size_t>(index)])];
        ++visits[index];
      }
      for (size_t c = 0; c < counts.size(); ++c) {
        EXPECT_GE(draws[c], n / classes) << "class " << c << " epoch " << epoch;
        EXPECT_LE(draws[c], n / classes + 1) << "class " << c << " epoch " << epoch;
      }
      for (int64_t i = 0; i < n; ++i) {
        const int32_t c = labels[static_cast<size_t>(i)];
        const int64_t times = visits.count(i) ? visits.at(i) : 0;
        if (draws[c] >= counts[c]) {  // cycled: every sample floor or ceil of draws / count
          EXPECT_GE(times, draws[c] / counts[c]) << "sample " << i << " of class " << c;
          EXPECT_LE(times, (draws[c] + counts[c] - 1) / counts[c]) << "sample " << i;
        } else {
          EXPECT_LE(times, 1) << "majority sample " << i << " of class " << c;
        }
      }
    }
  }
}

TEST(BalancedSampler, OnlyTheClassesPresentAreDrawn) {
  // Labels 0, 2 and 5: classes 1, 3 and 4 have no sample; the three present are drawn equally.
  std::vector<int32_t> labels(50, 0);
  labels.insert(labels.end(), 5, 2);
  labels.insert(labels.end(), 5, 5);
  std::map<int32_t, int64_t> draws;
  for (int64_t index : balanced_sequence(labels, 3, 0)) ++draws[labels[index]];
  EXPECT_EQ(draws, (std::map<int32_t, int64_t>{{0, 20}, {2, 20}, {5, 20}}));
  EXPECT_TRUE(balanced_sequence({}, 3, 0).empty());
  EXPECT_THROW(balanced_sequence({0, -1}, 3, 0), std::exception);
}

// A pure function of (labels, seed, epoch): the union of the shards is the same multiset on
// 1, 2 and 3 ranks (66 samples: no padding on any of them), and it is the epoch's sequence.
TEST(BalancedSampler, ShardsOfAnyWorldSizeMakeTheSameEpoch) {
  const auto labels = imbalanced_labels({60, 6});
  const Sampler sampler = balanced_sampler(labels);
  for (int64_t epoch : {0, 1, 4}) {
    const auto sequence = balanced_sequence(labels, 7, epoch);
    const std::multiset<int64_t> expected(sequence.begin(), sequence.end());
    for (int world : {1, 2, 3}) {
      std::multiset<int64_t> union_of_shards;
      for (const auto& shard : all_train_shards(sampler, world, epoch, false))
        union_of_shards.insert(shard.begin(), shard.end());
      EXPECT_EQ(union_of_shards, expected) << "world " << world << " epoch " << epoch;
    }
  }
}

TEST(BalancedSampler, EpochsAndSeedsDifferAndRepeat) {
  const auto labels = imbalanced_labels({100, 10});
  const auto epoch0 = balanced_train_shard(labels, 7, 0, {1, 3}, false);
  EXPECT_EQ(epoch0, balanced_train_shard(labels, 7, 0, {1, 3}, false));
  EXPECT_NE(epoch0, balanced_train_shard(labels, 7, 1, {1, 3}, false));
  EXPECT_NE(epoch0, balanced_train_shard(labels, 8, 0, {1, 3}, false));
  // Majority samples not drawn in one epoch are drawn in another.
  std::set<int64_t> majority_seen;
  for (int64_t epoch = 0; epoch < 6; ++epoch)
    for (int64_t index : balanced_sequence(labels, 7, epoch))
      if (labels[index] == 0) majority_seen.insert(index);
  EXPECT_GT(majority_seen.size(), 90u);
  // drop_last and padding as for the shard sampler: equal shard sizes.
  for (bool drop_last : {false, true})
    for (const auto& shard : all_train_shards(balanced_sampler(labels), 4, 0, drop_last))
      EXPECT_EQ(static_cast<int64_t>(shard.size()), train_shard_size(110, 4, drop_last));
}

// Note [Repeated augmentation]: the sequence has length n; its first floor(n / repeats) groups
// of `repeats` consecutive positions each hold one sample, and a cut last group holds one more
// sample n mod repeats times; no sample appears in two groups. repeats = 1 is the shard sampler.
TEST(RepeatedSampler, EachDrawnSampleAppearsRepeatsTimesInARow) {
  for (int64_t n : {1, 2, 5, 12, 31, 90, 100}) {
    for (int64_t repeats : {1, 2, 3, 4, 7}) {
      for (int64_t epoch : {0, 3}) {
        const auto sequence = repeated_sequence(n, 7, epoch, repeats);
        ASSERT_EQ(static_cast<int64_t>(sequence.size()), n);
        std::map<int64_t, int64_t> copies;
        for (int64_t index : sequence) {
          ASSERT_TRUE(index >= 0 && index < n) << index;
          ++copies[index];
        }
        const int64_t full = n / repeats, cut = n % repeats;
        EXPECT_EQ(static_cast<int64_t>(copies.size()), full + (cut > 0 ? 1 : 0))
            << "n " << n << " repeats " << repeats;
        for (int64_t g = 0; g * repeats < n; ++g) {
          const int64_t first = g * repeats, size = std::min(repeats, n - first);
          for (int64_t p = first; p < first + size; ++p)
            ASSERT_EQ(sequence[p], sequence[first]) << "group " << g << " position " << p;
          EXPECT_EQ(copies.at(sequence[first]), size)
              << "n " << n << " repeats " << repeats << ": sample " << sequence[first]
              << " of group " << g << " appears elsewhere too";
        }
      }
    }
    EXPECT_EQ(repeated_sequence(n, 7, 2, 1), shuffled_sequence(n, 7, 2));
  }
  EXPECT_THROW(repeated_sequence(10, 7, 0, 0), std::exception);
}

// The copies of a sample sit on `repeats` distinct ranks when world >= repeats, at distinct
// positions (so with distinct augmentation streams); with world < repeats they wrap round and
// a rank holds floor or ceil of repeats / world of them. Positions past n (padding) excluded.
TEST(RepeatedSampler, CopiesLandOnDistinctRanksAndPositions) {
  const int64_t n = 90;
  for (int64_t repeats : {2, 3, 4}) {
    for (int world : {1, 2, 3, 4, 5, 8}) {
      std::map<int64_t, std::vector<std::pair<int, int64_t>>> where;  // index -> (rank, position)
      for (int r = 0; r < world; ++r) {
        const auto shard = repeated_train_shard(n, 7, 1, repeats, {r, world}, false);
        for (size_t k = 0; k < shard.size(); ++k) {
          const int64_t position = train_position(0, static_cast<int64_t>(k), {r, world});
          if (position < n) where[shard[k]].push_back({r, position});
        }
      }
      for (const auto& [index, visits] : where) {
        const auto copies = static_cast<int64_t>(visits.size());
        std::set<int> ranks;
        std::set<int64_t> positions;
        std::map<int, int64_t> per_rank;
        for (const auto& [rank, position] : visits) {
          ranks.insert(rank);
          positions.insert(position);
          ++per_rank[rank];
        }
        EXPECT_EQ(static_cast<int64_t>(positions.size()), copies) << "sample " << index;
        if (world >= copies) {
          EXPECT_EQ(static_cast<int64_t>(ranks.size()), copies)
              << "world " << world << " repeats " << repeats << ": copies of sample " << index
              << " share a rank";
        } else {
          for (const auto& [rank, count] : per_rank) {
            EXPECT_GE(count, copies / world) << "sample " << index << " rank " << rank;
            EXPECT_LE(count, (copies + world - 1) / world) << "sample " << index;
          }
        }
      }
    }
  }
}

TEST(RepeatedSampler, TheRestOfAnEpochContinuesOnAnyWorldSize) {
  for (int64_t n : {12, 37, 90})
    for (int64_t repeats : {2, 3, 4})
      expect_the_rest_continues_on_any_world_size(repeated_sampler(n, repeats), n);
}

// A pure function of (seed, epoch): the union of the shards is the epoch's sequence on every
// world size that needs no padding.
TEST(RepeatedSampler, ShardsOfAnyWorldSizeMakeTheSameEpoch) {
  const int64_t n = 60;
  for (int64_t epoch : {0, 1}) {
    const auto sequence = repeated_sequence(n, 7, epoch, 3);
    const std::multiset<int64_t> expected(sequence.begin(), sequence.end());
    for (int world : {1, 2, 3, 4, 5, 6}) {
      std::multiset<int64_t> union_of_shards;
      for (const auto& shard : all_train_shards(repeated_sampler(n, 3), world, epoch, false))
        union_of_shards.insert(shard.begin(), shard.end());
      EXPECT_EQ(union_of_shards, expected) << "world " << world << " epoch " << epoch;
    }
  }
}

// Each epoch draws ceil(n / repeats) samples, others in another epoch or with another seed, so
// over epochs every sample is drawn; padding and drop_last as for the shard sampler.
TEST(RepeatedSampler, EpochsDrawDifferentSamples) {
  const int64_t n = 90, repeats = 3;
  auto drawn = [&](uint64_t seed, int64_t epoch) {
    const auto sequence = repeated_sequence(n, seed, epoch, repeats);
    return std::set<int64_t>(sequence.begin(), sequence.end());
  };
  EXPECT_EQ(drawn(7, 0), drawn(7, 0));
  EXPECT_NE(drawn(7, 0), drawn(7, 1));
  EXPECT_NE(drawn(7, 0), drawn(8, 0));
  std::set<int64_t> ever;
  for (int64_t epoch = 0; epoch < 20; ++epoch) {
    const auto once = drawn(7, epoch);
    EXPECT_EQ(static_cast<int64_t>(once.size()), n / repeats);
    ever.insert(once.begin(), once.end());
  }
  EXPECT_EQ(static_cast<int64_t>(ever.size()), n) << "some samples never drawn in 20 epochs";
  for (bool drop_last : {false, true})
    for (const auto& shard : all_train_shards(repeated_sampler(100, 3), 8, 0, drop_last))
      EXPECT_EQ(static_cast<int64_t>(shard.size()), train_shard_size(100, 8, drop_last));
}

TEST(Sampler, EpochSequenceChoosesTheConfiguredSampler) {
  const auto labels = imbalanced_labels({40, 4});
  EXPECT_EQ(epoch_sequence(SamplerKind::kShard, labels, 7, 2, 3), shuffled_sequence(44, 7, 2));
  EXPECT_EQ(epoch_sequence(SamplerKind::kBalanced, labels, 7, 2, 3),
            balanced_sequence(labels, 7, 2));
  EXPECT_EQ(epoch_sequence(SamplerKind::kRepeated, labels, 7, 2, 4),
            repeated_sequence(44, 7, 2, 4));
  EXPECT_NE(epoch_sequence(SamplerKind::kRepeated, labels, 7, 2, 4),
            repeated_sequence(44, 7, 2, 3));
}

TEST(ClassWeights, InverseToCountsWithMeanOne) {
  const auto weights = balanced_class_weights({100, 10, 50});
  ASSERT_EQ(weights.size(), 3u);
  EXPECT_NEAR(std::accumulate(weights.begin(), weights.end(), 0.0) / 3, 1.0, 1e-12);
  // w_c * count_c is the same for every class: inverse frequency.
  EXPECT_NEAR(weights[0] * 100, weights[1] * 10, 1e-9);
  EXPECT_NEAR(weights[0] * 100, weights[2] * 50, 1e-9);
  EXPECT_NEAR(weights[1], 10 * weights[0], 1e-12);
  EXPECT_EQ(balanced_class_weights({7, 7, 7, 7}), std::vector<double>(4, 1.0));
}

TEST(ClassWeights, AnEmptyClassIsAnErrorNamingIt) {
  using testing_support::error_of;
  const std::string by_index = error_of([] { balanced_class_weights({5, 0, 3}); });
  EXPECT_NE(by_index.find("class 1 has 0 training images"), std::string::npos) << by_index;
  const std::string by_name = error_of([] {
    balanced_class_weights({5, 0, 3}, {"crow", "finch", "gull"});
  });
  EXPECT_NE(by_name.find("class 'finch' has 0"), std::string::npos) << by_name;
  EXPECT_THROW(balanced_class_weights({}), std::exception);
  EXPECT_THROW(balanced_class_weights({1, 2}, {"only one name"}), std::exception);
}

TEST(ClassWeights, ImagesPerClassCountsLabels) {
  EXPECT_EQ(images_per_class(imbalanced_labels({4, 0, 2}), 4), (std::vector<int64_t>{4, 0, 2, 0}));
  const std::string outside = testing_support::error_of([] { images_per_class({0, 3, 1}, 3); });
  EXPECT_NE(outside.find("sample 1 has the label 3"), std::string::npos) << outside;
}

TEST(Sampler, RejectsAnImpossibleShard) {
  EXPECT_THROW(train_shard(10, 1, 0, {3, 3}, false), std::exception);
  EXPECT_THROW(eval_shard(10, {0, 0}), std::exception);
}

}  // namespace
}  // namespace nxt
