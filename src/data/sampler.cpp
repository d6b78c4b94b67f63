// Implements the training sequences (shard, balanced, repeated), the node shares of data.shard_by
// node, and the training and evaluation shards.
#include "data/sampler.h"

#include <algorithm>
#include <map>
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

std::vector<int64_t> shuffled_sequence(int64_t n, uint64_t seed, int64_t epoch) {
  NXT_CHECK(n >= 0, "invalid sample count ", n);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  SplitMix64 rng(mix_seed({seed, static_cast<uint64_t>(epoch), 0x5a3b1e5ULL}));
  seeded_shuffle(order, rng);
  return order;
}

std::vector<int64_t> repeated_sequence(int64_t n, uint64_t seed, int64_t epoch, int64_t repeats) {
  NXT_CHECK(repeats >= 1, "data.repeats must be at least 1 (got ", repeats, ")");
  // The first ceil(n / repeats) of the shard sampler's shuffle: the same permutation, so
  // repeats = 1 is the shard sampler and the samples drawn change with (seed, epoch) alike.
  const std::vector<int64_t> shuffled = shuffled_sequence(n, seed, epoch);
  std::vector<int64_t> sequence(static_cast<size_t>(n));
  for (int64_t p = 0; p < n; ++p)
    sequence[static_cast<size_t>(p)] = shuffled[static_cast<size_t>(p / repeats)];
  return sequence;
}

std::vector<int64_t> balanced_sequence(const std::vector<int32_t>& labels, uint64_t seed,
                                       int64_t epoch) {
  // The samples of each class present, in index order (so the grouping is a pure function of
  // the labels), then shuffled with a stream of their own per (seed, epoch, class).
  std::map<int32_t, std::vector<int64_t>> members;
  for (size_t i = 0; i < labels.size(); ++i) {
    NXT_CHECK(labels[i] >= 0, "sample ", i, " has the negative label ", labels[i]);
    members[labels[i]].push_back(static_cast<int64_t>(i));
  }
  std::vector<int32_t> classes;
  for (auto& [label, samples] : members) {
    SplitMix64 rng(
        mix_seed({seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(label), 0xba1a5ceULL}));
    seeded_shuffle(samples, rng);
    classes.push_back(label);
  }
  // Class per position: a round-robin over the classes in a shuffled order (which classes get
  // the n mod C extra draws changes with the epoch), then shuffled. Exactly equal counts, +-1.
  SplitMix64 rng(mix_seed({seed, static_cast<uint64_t>(epoch), 0xc1a55e5ULL}));
  seeded_shuffle(classes, rng);
  std::vector<int32_t> class_at(labels.size());
  for (size_t p = 0; p < class_at.size(); ++p) class_at[p] = classes[p % classes.size()];
  seeded_shuffle(class_at, rng);
  // The k-th draw of a class takes its k-th shuffled sample, cycling: minority samples repeat
  // as evenly as possible.
  std::map<int32_t, size_t> drawn;
  std::vector<int64_t> sequence;
  sequence.reserve(labels.size());
  for (int32_t label : class_at) {
    const std::vector<int64_t>& samples = members.at(label);
    sequence.push_back(samples[drawn[label]++ % samples.size()]);
  }
  return sequence;
}

std::vector<int64_t> shard_of_sequence(const std::vector<int64_t>& sequence, ShardSpec shard,
                                       bool drop_last, int64_t start) {
  const auto n = static_cast<int64_t>(sequence.size());
  check_shard(n, shard);
  NXT_CHECK(start >= 0, "invalid epoch start position ", start);
  const int64_t per_rank = train_shard_size(n, shard.world, drop_last, start);
  std::vector<int64_t> mine;
  mine.reserve(static_cast<size_t>(per_rank));
  // Position p of the padded sequence is sequence[p mod n]: the head repeats (cyclically, when
  // the padding is longer than n, as with n < world).
  for (int64_t k = 0; k < per_rank && n > 0; ++k)
    mine.push_back(sequence[static_cast<size_t>(train_position(start, k, shard) % n)]);
  return mine;
}

std::vector<int64_t> train_shard(int64_t n, uint64_t seed, int64_t epoch, ShardSpec shard,
                                 bool drop_last, int64_t start) {
  return shard_of_sequence(shuffled_sequence(n, seed, epoch), shard, drop_last, start);
}

std::vector<int64_t> balanced_train_shard(const std::vector<int32_t>& labels, uint64_t seed,
                                          int64_t epoch, ShardSpec shard, bool drop_last,
                                          int64_t start) {
  return shard_of_sequence(balanced_sequence(labels, seed, epoch), shard, drop_last, start);
}

std::vector<int64_t> repeated_train_shard(int64_t n, uint64_t seed, int64_t epoch, int64_t repeats,
                                          ShardSpec shard, bool drop_last, int64_t start) {
  return shard_of_sequence(repeated_sequence(n, seed, epoch, repeats), shard, drop_last, start);
}

std::vector<int64_t> epoch_sequence(SamplerKind kind, const std::vector<int32_t>& labels,
                                    uint64_t seed, int64_t epoch, int64_t repeats) {
  const auto n = static_cast<int64_t>(labels.size());
  switch (kind) {
    case SamplerKind::kShard:
      return shuffled_sequence(n, seed, epoch);
    case SamplerKind::kBalanced:
      return balanced_sequence(labels, seed, epoch);
    case SamplerKind::kRepeated:
      return repeated_sequence(n, seed, epoch, repeats);
  }
  throw Error("unknown sampler kind " + std::to_string(static_cast<int>(kind)));
}

int64_t deal_of_epoch(int64_t epoch, int64_t reshard_every) {
  NXT_CHECK(epoch >= 0 && reshard_every >= 0, "invalid epoch ", epoch,
            " or data.reshard_every_epochs ", reshard_every);
  return reshard_every > 0 ? epoch / reshard_every : 0;
}

namespace {

// Deal `deal`'s permutation of [0, n), cut at floor(i * n / nodes) into the nodes' shares. A
// stream of its own (0xdea1), so a deal is unrelated to every epoch's shuffle.
std::vector<int64_t> dealt_order(int64_t n, uint64_t seed, int64_t deal) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  SplitMix64 rng(mix_seed({seed, static_cast<uint64_t>(deal), 0xdea1ULL}));
  seeded_shuffle(order, rng);
  return order;
}

// Node `node`'s share of a dealt order, ascending: contiguous cuts, sizes differing by at most one.
std::vector<int64_t> share_of(const std::vector<int64_t>& order, int node, int nodes) {
  const auto n = static_cast<int64_t>(order.size());
  const auto bound = [n, nodes](int i) { return static_cast<std::ptrdiff_t>(i * n / nodes); };
  std::vector<int64_t> share(order.begin() + bound(node), order.begin() + bound(node + 1));
  std::sort(share.begin(), share.end());
  return share;
}

}  // namespace

std::vector<int64_t> node_share(int64_t n, uint64_t seed, int64_t deal, int node, int nodes) {
  NXT_CHECK(nodes >= 1 && node >= 0 && node < nodes && n >= 0, "invalid node share: node ", node,
            " of ", nodes, " over ", n, " images");
  return share_of(dealt_order(n, seed, deal), node, nodes);
}

int64_t node_sharded_length(int64_t n, NodeLayout layout, bool drop_last) {
  const int nodes = layout.nodes, per_node = layout.ranks_per_node;
  NXT_CHECK(nodes >= 1 && per_node >= 1, "invalid node layout: ", nodes, " node(s) x ", per_node,
            " rank(s)");
  NXT_CHECK(n >= nodes, "data.shard_by node: ", n, " training images cannot give each of ", nodes,
            " nodes a share");
  // Shares differ by at most one, so the largest is ceil(n / nodes), the smallest floor.
  const int64_t largest = (n + nodes - 1) / nodes, smallest = n / nodes;
  const int64_t per_rank = drop_last ? smallest / per_node : (largest + per_node - 1) / per_node;
  return per_rank * layout.world();
}

std::vector<int64_t> node_sharded_sequence(int64_t n, uint64_t seed, int64_t epoch,
                                           int64_t reshard_every, NodeLayout layout,
                                           bool drop_last) {
  const int nodes = layout.nodes, per_node = layout.ranks_per_node, world = layout.world();
  const int64_t length = node_sharded_length(n, layout, drop_last);
  const int64_t per_rank = length / world;
  const int64_t deal = deal_of_epoch(epoch, reshard_every);
  std::vector<int64_t> sequence(static_cast<size_t>(length));
  // One shuffle per epoch for all the nodes (64 nodes x 1.28M images would be 82M steps).
  const std::vector<int64_t> order = dealt_order(n, seed, deal);
  for (int node = 0; node < nodes; ++node) {
    std::vector<int64_t> mine = share_of(order, node, nodes);
    SplitMix64 rng(
        mix_seed({seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(node), 0x40deULL}));
    seeded_shuffle(mine, rng);
    // The node's j-th sample (padding repeats its head) goes to local rank j mod L as its
    // (j / L)-th: global position (j / L) * world + node * L + j mod L.
    const auto size = static_cast<int64_t>(mine.size());
    for (int64_t j = 0; j < per_rank * per_node; ++j)
      sequence[static_cast<size_t>((j / per_node) * world + node * per_node + j % per_node)] =
          mine[static_cast<size_t>(j % size)];
  }
  return sequence;
}

std::vector<int64_t> eval_shard(int64_t n, ShardSpec shard) {
  check_shard(n, shard);
  std::vector<int64_t> mine;
  for (int64_t i = shard.rank; i < n; i += shard.world) mine.push_back(i);
  return mine;
}

}  // namespace nxt
