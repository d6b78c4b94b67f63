// Implements the node table: every rank's host name, local rank and local size gathered in one
// all-reduce (comm/node_table.h).
#include "comm/node_table.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "common/check.h"
#include "common/hash.h"

namespace nxt {
namespace {

// A rank's slots: its host name's first 63 bytes packed 8 to an integer, a hash of the whole
// name, and its MPI local rank and size.
constexpr size_t kNameBytes = 64;
constexpr size_t kNameSlots = kNameBytes / sizeof(int64_t);
enum : size_t { kHashSlot = kNameSlots, kLocalRankSlot, kLocalSizeSlot, kSlots };

std::string this_host() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "?";
  return name;
}

}  // namespace

std::string NodeTable::ranks_text(int node) const {
  const std::vector<int>& ranks = ranks_of_node.at(static_cast<size_t>(node));
  std::ostringstream text;
  for (size_t i = 0; i < ranks.size();) {
    size_t j = i;
    while (j + 1 < ranks.size() && ranks[j + 1] == ranks[j] + 1) ++j;
    text << (i > 0 ? "," : "") << ranks[i];
    if (j > i) text << "-" << ranks[j];
    i = j + 1;
  }
  return text.str();
}

void NodeTable::check_matches_mpi(const std::string& needed_by) const {
  for (size_t r = 0; r < node_of_rank.size(); ++r) {
    const std::vector<int>& same_host = ranks_of_node[static_cast<size_t>(node_of_rank[r])];
    const auto position =
        std::find(same_host.begin(), same_host.end(), static_cast<int>(r)) - same_host.begin();
    NXT_CHECK(
        mpi_local_size[r] == static_cast<int>(same_host.size()) && mpi_local_rank[r] == position,
        "rank ", r, " is local rank ", mpi_local_rank[r], " of ", mpi_local_size[r],
        " on its node (MPI), but it is rank ", position, " of the ", same_host.size(),
        " rank(s) with its host name '", host_of_rank[r], "': ", needed_by,
        " needs one host name per node");
  }
}

NodeTable learn_nodes(Communicator& comm) {
  const size_t world = static_cast<size_t>(comm.world_size());
  const std::string host = this_host();
  std::vector<int64_t> table(kSlots * world, 0);
  int64_t* mine = table.data() + kSlots * static_cast<size_t>(comm.rank());
  char packed[kNameBytes] = {};
  std::memcpy(packed, host.data(), std::min(host.size(), kNameBytes - 1));
  std::memcpy(mine, packed, kNameBytes);
  mine[kHashSlot] = static_cast<int64_t>(Fnv1a64().add(host).value() >> 1);
  mine[kLocalRankSlot] = comm.local_rank();
  mine[kLocalSizeSlot] = comm.place().local_size;
  table = comm.all_reduce_integers(table, ReduceOp::kSum);

  NodeTable nodes;
  std::vector<int64_t> hashes;  // of each node's host name
  for (size_t r = 0; r < world; ++r) {
    const int64_t* slots = table.data() + kSlots * r;
    const char* name = reinterpret_cast<const char*>(slots);
    nodes.host_of_rank.emplace_back(name, strnlen(name, kNameBytes - 1));
    nodes.mpi_local_rank.push_back(static_cast<int>(slots[kLocalRankSlot]));
    nodes.mpi_local_size.push_back(static_cast<int>(slots[kLocalSizeSlot]));
    const auto known = std::find(hashes.begin(), hashes.end(), slots[kHashSlot]);
    const int node = static_cast<int>(known - hashes.begin());
    if (known == hashes.end()) {
      hashes.push_back(slots[kHashSlot]);
      nodes.host_of_node.push_back(nodes.host_of_rank.back());
      nodes.ranks_of_node.emplace_back();
    }
    nodes.ranks_of_node[static_cast<size_t>(node)].push_back(static_cast<int>(r));
    nodes.node_of_rank.push_back(node);
  }
  return nodes;
}

}  // namespace nxt
