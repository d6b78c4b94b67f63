// The distributed sampler, as pure functions of (n, seed, epoch, rank, world): which sample
// indices rank `rank` visits in an epoch, in order. Every rank computes the same sequence
// independently; no communication is needed.
//
// A training epoch is a sequence of n sample indices (n = the split's size), a pure function of
// (seed, epoch) and, for the balanced sampler, the split's labels. Three samplers make it
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
//  - repeated: repeated augmentation (Note [Repeated augmentation]): the shuffle's first
//    ceil(n / repeats) samples, each `repeats` times in a row.
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
// Note [Repeated augmentation]
// `data.sampler: repeated` is torchvision's RASampler (references/classification/sampler.py,
// from DeiT; Hoffer et al. 2019, "Augment your batch"): an epoch shows fewer distinct samples,
// each several times with different augmentations, and keeps its length. Position p of the
// epoch holds shuffled[p / repeats], where `shuffled` is the shard sampler's permutation of the
// same (seed, epoch): the first floor(n / repeats) shuffled samples appear exactly `repeats`
// times each, and when n is not a multiple of `repeats` the next one fills the last n mod
// repeats positions (a cut group: fewer copies). So the sequence is still a function of (seed,
// epoch) alone, of length n, and everything above holds for it: padding, drop_last, the
// strided shards and a resume on another world size. With repeats = 1 it is the shard sampler.
//  - Ranks: the copies of a sample sit at consecutive positions, so the strided shards put them
//    on `repeats` different ranks when world >= repeats. With world < repeats the copies wrap
//    round and ceil or floor of repeats / world of them share a rank (RASampler does the same).
//  - Augmentation: each copy has its own position, and augmentation is seeded by the position
//    (data/loader.h), so the copies are augmented differently on every world size.
//  - Epoch length: RASampler repeats all n samples (n * repeats positions, padded to the world)
//    and lets each rank take only floor(floor(n / 256) * 256 / world) of its share, so an epoch
//    is a prefix of that sequence, n rounded down to a multiple of 256 and then of the world:
//    where it ends moves with the world size. Here an epoch is the first n positions, padded up
//    to a multiple of the world (or cut, drop_last) as for the other samplers, so the samples
//    it draws do not depend on the world size. Both draw about n / repeats distinct samples
//    per epoch; a different (seed, epoch) draws others, so over epochs every sample is drawn.
//
// Note [Node shares]
// data.shard_by node, for datasets bigger than a node's memory: each node reads a fixed share
// of the training images, so its page cache (or its one copy: Note [One copy per node] in
// data/node_copy.h) needs only 1/N_nodes of the file. A deal is a seeded shuffle of [0, n) cut
// into N_nodes contiguous shares (sizes differ by at most one); deal d = epoch /
// reshard_every for 0-based epochs (0 = never: deal 0 for ever), so shares change only every K
// epochs. An epoch
// shuffles each node's share with (seed, epoch, node) and gives the node's L ranks its
// positions strided (local rank l takes l, l + L, ...), every node's share padded by its own
// head to ceil(largest share / L) samples per rank (cut to floor(smallest share / L) with
// drop_last), so all ranks take the same count. These per-node sequences are interleaved into
// one global sequence: global position q * world + (node * L + l) holds node `node`'s q * L +
// l-th sample; a rank's "slot" node * L + l is its rank in that order (its world rank under
// block placement, not necessarily otherwise). So everything in Note [World-size-independent
// epochs] holds with the slot in place of the rank: each image once per epoch globally (up to
// the padding), positions [0, k * world) done after k samples per rank, augmentation seeded by
// the global position. The layout (N_nodes, L) is recorded in checkpoints; a resume rebuilds
// the interrupted epoch's sequence with the recorded layout and strides its rest over the new
// ranks as the shard sampler does, so it is exact on any layout (only on the same one does
// each node keep reading its own share); the next epoch deals for the new layout. Every node
// must run the same number of ranks.
//
// Evaluation is unshuffled and unpadded: rank r takes r, r + world, ..., so each sample is
// counted exactly once across ranks, and shard sizes differ by at most one.
#pragma once
#include <cstdint>
#include <vector>

#include "common/config.h"

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
// Note [Repeated augmentation]: position p -> shuffled_sequence(n, seed, epoch)[p / repeats].
std::vector<int64_t> repeated_sequence(int64_t n, uint64_t seed, int64_t epoch, int64_t repeats);
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
std::vector<int64_t> repeated_train_shard(int64_t n, uint64_t seed, int64_t epoch, int64_t repeats,
                                          ShardSpec shard, bool drop_last, int64_t start = 0);

// The epoch's sequence of `data.sampler` `kind` over a split with these labels (n =
// labels.size()); `repeats` is read by kRepeated only. The one place the samplers are chosen.
std::vector<int64_t> epoch_sequence(SamplerKind kind, const std::vector<int32_t>& labels,
                                    uint64_t seed, int64_t epoch, int64_t repeats);

// The node layout of data.shard_by node (Note [Node shares]); nodes == 0: shard_by rank.
struct NodeLayout {
  int nodes = 0;
  int ranks_per_node = 0;
  int world() const { return nodes * ranks_per_node; }
};

// The deal in force in `epoch` (0-based): epoch / reshard_every, or 0 when reshard_every is 0.
int64_t deal_of_epoch(int64_t epoch, int64_t reshard_every);

// Node `node`'s share of deal `deal` over n images, ascending.
std::vector<int64_t> node_share(int64_t n, uint64_t seed, int64_t deal, int node, int nodes);

// The length of node_sharded_sequence: world * ceil(ceil(n / nodes) / L) samples, or with
// drop_last world * floor(floor(n / nodes) / L).
int64_t node_sharded_length(int64_t n, NodeLayout layout, bool drop_last);

// The epoch's global sequence under shard_by node (length world * per-rank count; already a
// multiple of the world, so shard_of_sequence adds no padding). The rank with slot s takes
// shard_of_sequence(sequence, {s, world}, ...).
std::vector<int64_t> node_sharded_sequence(int64_t n, uint64_t seed, int64_t epoch,
                                           int64_t reshard_every, NodeLayout layout,
                                           bool drop_last);

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
