// Implements the training and evaluation shards.
#include "data/sampler.h"

#include <algorithm>
#include <numeric>

#include "common/check.h"
#include "common/hash.h"

namespace nxt {
namespace {

void check_shard(int64_t n, ShardSpec shard) {
  NXT_CHECK(n >= 0 && shard.world >= 1 && shard.rank >= 0 && shard.rank < shard.world,
            "invalid shard: rank ", shard.rank, " of ", shard.world, " over ", n, " samples");
}

}  // namespace

int64_t train_shard_size(int64_t n, int world, bool drop_last, int64_t start) {
  const int64_t remaining = std::max<int64_t>(0, n - start);
  return drop_last ? remaining / world : (remaining + world - 1) / world;
}

std::vector<int64_t> train_shard(int64_t n, uint64_t seed, int64_t epoch, ShardSpec shard,
                                 bool drop_last, int64_t start) {
  check_shard(n, shard);
  NXT_CHECK(start >= 0, "invalid epoch start position ", start);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  SplitMix64 rng(mix_seed({seed, static_cast<uint64_t>(epoch), 0x5a3b1e5ULL}));
  seeded_shuffle(order, rng);
  const int64_t per_rank = train_shard_size(n, shard.world, drop_last, start);
  std::vector<int64_t> mine;
  mine.reserve(static_cast<size_t>(per_rank));
  // Position p of the padded permutation is order[p mod n]: the head repeats (cyclically, when
  // the padding is longer than n, as with n < world).
  for (int64_t k = 0; k < per_rank && n > 0; ++k)
    mine.push_back(order[static_cast<size_t>(train_position(start, k, shard) % n)]);
  return mine;
}

std::vector<int64_t> eval_shard(int64_t n, ShardSpec shard) {
  check_shard(n, shard);
  std::vector<int64_t> mine;
  for (int64_t i = shard.rank; i < n; i += shard.world) mine.push_back(i);
  return mine;
}

}  // namespace nxt
