// The distributed sampler, as pure functions of (n, seed, epoch, rank, world): which sample
// indices rank `rank` visits in an epoch, in order. Every rank computes the same sequence
// independently; no communication is needed.
//
// A training epoch is a sequence of n sample indices (n = the split's size), a pure function of
// (seed, epoch) and, for the balanced sampler, the split's labels. Two samplers make it
// (`data.sampler`); everything after the sequence is shared:
//  - shard (default): one seeded shuffle of [0, n), as PyTorch's DistributedSampler: each
//    sample once per epoch.
//  - balanced: classes are drawn equally. The class of each position comes from a seeded
//    shuffle of a round-robin over the classes the split has (so class counts per epoch differ
//    by at most one; which classes get the extra one is shuffled too); the k-th draw of a class
//    takes the k-th image of that class's own seeded shuffle, cycled when the class has fewer
//    images than draws. It samples with replacement: an epoch repeats minority images (as
//    evenly as possible) and skips some majority ones, other ones each epoch. A class with no
//    image in the split is never drawn (class weights refuse it: data/class_balance.h).
// The sequence is then padded by repeating its head until the length is a multiple of `world`
// (or, with drop_last, cut down to one), and rank r takes positions r, r + world, r + 2*world,
// ... So every rank gets the same count, which keeps the collectives of every step matched
// (Note [Collective order] in comm/communicator.h).
//
// Note [World-size-independent epochs]
// The sequence depends on (seed, epoch) only (and the labels), never on the world size, and
// the strided shards consume it as a prefix: after every rank has taken k samples, exactly the
// positions [0, k * world) are done. So a training position is recorded as a count of global
// samples (`start`), and the rest of the epoch, positions [start, n), can be re-sharded over any
// number of ranks: rank r takes start + r, start + r + world', ... A job requeued on fewer or
// more nodes then sees each position of the interrupted epoch exactly once, in the same global
// order. Augmentation is seeded by the global position too (data/loader.h), so it does not
// change with the world size either.
//
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

// Samples per rank for the rest of a training epoch from global position `start` (0: the whole
// epoch). Positions past n (the padding) repeat the sequence's head.
int64_t train_shard_size(int64_t n, int world, bool drop_last, int64_t start = 0);

// An epoch's sequence (position -> sample index, length n) of each sampler.
std::vector<int64_t> shuffled_sequence(int64_t n, uint64_t seed, int64_t epoch);
// `labels[i]` is sample i's class (any non-negative values; only the classes present count).
std::vector<int64_t> balanced_sequence(const std::vector<int32_t>& labels, uint64_t seed,
                                       int64_t epoch);

// This rank's part of an epoch's sequence from global position `start` (padded or cut as
// above); the k-th index is at global position train_position(start, k, shard).
std::vector<int64_t> shard_of_sequence(const std::vector<int64_t>& sequence, ShardSpec shard,
                                       bool drop_last, int64_t start = 0);

// shard_of_sequence of each sampler's sequence.
std::vector<int64_t> train_shard(int64_t n, uint64_t seed, int64_t epoch, ShardSpec shard,
                                 bool drop_last, int64_t start = 0);
std::vector<int64_t> balanced_train_shard(const std::vector<int32_t>& labels, uint64_t seed,
                                          int64_t epoch, ShardSpec shard, bool drop_last,
                                          int64_t start = 0);

inline int64_t train_position(int64_t start, int64_t k, ShardSpec shard) {
  return start + k * shard.world + shard.rank;
}

// Global positions consumed once every rank has taken `taken` samples from `start`.
inline int64_t positions_consumed(int64_t start, int64_t taken, int world) {
  return start + taken * world;
}

std::vector<int64_t> eval_shard(int64_t n, ShardSpec shard);

// Number of batches of `batch_size` in `samples` (the last one may be partial).
inline int64_t batches_in(int64_t samples, int64_t batch_size) {
  return (samples + batch_size - 1) / batch_size;
}

}  // namespace nxt
