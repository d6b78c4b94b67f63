// The distributed sampler, as pure functions of (n, seed, epoch, rank, world): which sample
// indices rank `rank` visits in an epoch, in order. Every rank computes the same permutation
// independently; no communication is needed.
//
// Training follows PyTorch's DistributedSampler: one seeded shuffle of [0, n) per epoch, padded
// by repeating its head until the length is a multiple of `world` (or, with drop_last, cut
// down to one), and rank r takes positions r, r + world, r + 2*world, ... So every rank gets
// the same count, which keeps the collectives of every step matched.
// Evaluation is unshuffled and unpadded: rank r takes r, r + world, ..., so each sample is
// counted exactly once across ranks, and shard sizes differ by at most one.
#pragma once
#include <cstdint>
#include <vector>

namespace nxt {

struct ShardSpec {
  int rank = 0;
  int world = 1;
};

// Samples per rank per training epoch.
int64_t train_shard_size(int64_t n, int world, bool drop_last);

std::vector<int64_t> train_shard(int64_t n, uint64_t seed, int64_t epoch, ShardSpec shard,
                                 bool drop_last);

std::vector<int64_t> eval_shard(int64_t n, ShardSpec shard);

// Number of batches of `batch_size` in `samples` (the last one may be partial).
inline int64_t batches_in(int64_t samples, int64_t batch_size) {
  return (samples + batch_size - 1) / batch_size;
}

}  // namespace nxt
