// Tests the distributed sampler: coverage and padding of the training shards over many
// (world, n), drop_last, disjoint and complete evaluation shards, and seeding.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "data/sampler.h"

namespace nxt {
namespace {

std::vector<std::vector<int64_t>> all_train_shards(int64_t n, int world, int64_t epoch,
                                                   bool drop_last, uint64_t seed = 7) {
  std::vector<std::vector<int64_t>> shards;
  for (int r = 0; r < world; ++r)
    shards.push_back(train_shard(n, seed, epoch, {r, world}, drop_last));
  return shards;
}

TEST(Sampler, TrainShardsCoverEverySampleWithDocumentedPadding) {
  for (int world : {1, 2, 3, 4, 7, 8}) {
    for (int64_t n : {1, 2, 5, 7, 8, 9, 31, 100, 257}) {
      for (int64_t epoch : {0, 3}) {
        const auto shards = all_train_shards(n, world, epoch, false);
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
  const auto shards = all_train_shards(n, world, 1, false);
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
      const auto shards = all_train_shards(n, world, 2, true);
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
// any other world it covers exactly the remaining positions, in permutation order.
TEST(Sampler, TheRestOfAnEpochContinuesOnAnyWorldSize) {
  for (int64_t n : {12, 37, 90}) {
    const auto order = train_shard(n, 7, 2, {0, 1}, false);  // the epoch's permutation
    for (int world : {1, 2, 3, 4}) {
      for (int64_t taken : {int64_t{0}, int64_t{1}, int64_t{3}}) {
        const int64_t start = positions_consumed(0, taken, world);
        if (start >= n) continue;
        for (int r = 0; r < world; ++r) {
          const auto full = train_shard(n, 7, 2, {r, world}, false);
          const auto rest = train_shard(n, 7, 2, {r, world}, false, start);
          EXPECT_EQ(rest, std::vector<int64_t>(full.begin() + taken, full.end()));
        }
        for (int next_world : {1, 2, 3, 5}) {
          std::map<int64_t, int64_t> by_position;
          for (int r = 0; r < next_world; ++r) {
            const auto rest = train_shard(n, 7, 2, {r, next_world}, false, start);
            EXPECT_EQ(static_cast<int64_t>(rest.size()),
                      train_shard_size(n, next_world, false, start));
            for (size_t k = 0; k < rest.size(); ++k)
              by_position[train_position(start, static_cast<int64_t>(k), {r, next_world})] =
                  rest[k];
          }
          for (int64_t p = start; p < n; ++p)
            EXPECT_EQ(by_position.at(p), order[static_cast<size_t>(p)])
                << "n " << n << " world " << world << " -> " << next_world << " position " << p;
          EXPECT_LT(static_cast<int64_t>(by_position.size()), n - start + next_world);
        }
      }
    }
  }
}

TEST(Sampler, RejectsAnImpossibleShard) {
  EXPECT_THROW(train_shard(10, 1, 0, {3, 3}, false), std::exception);
  EXPECT_THROW(eval_shard(10, {0, 0}), std::exception);
}

}  // namespace
}  // namespace nxt
