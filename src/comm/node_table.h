// Which node each rank of the job runs on, learnt from host names: one all-reduce of every
// rank's host name, local rank and local size (MPI's node: MPI_Comm_split_type shared). The
// trainer uses it for the node copies, data.shard_by node and the hosts its straggler report
// names; the preflight for its per-node table and its node and leader communicators.
#pragma once
#include <string>
#include <vector>

#include "comm/communicator.h"

namespace nxt {

// Nodes in the order of their first rank; a node's first rank is its leader (local rank 0).
struct NodeTable {
  std::vector<std::string> host_of_rank;  // by rank: the host name (its first 63 bytes)
  std::vector<std::string> host_of_node;  // by node
  std::vector<std::vector<int>> ranks_of_node;
  std::vector<int> node_of_rank;
  // By rank: MPI's local rank and local size, for check_matches_mpi().
  std::vector<int> mpi_local_rank, mpi_local_size;

  int nodes() const { return static_cast<int>(host_of_node.size()); }
  int first_rank_of(int node) const { return ranks_of_node.at(static_cast<size_t>(node)).front(); }
  // "0-3", "0,2,4-5": the node's ranks, compressed into ranges.
  std::string ranks_text(int node) const;
  // Throws nxt::Error naming the first rank whose MPI node disagrees with its host name (its
  // local rank or size is not its place among the ranks with its host name). `needed_by` says
  // what relies on one host name per node, e.g. "data.shard_by node".
  void check_matches_mpi(const std::string& needed_by) const;
};

// Collective over `comm`: one all-reduce (rank r fills its own slots, the others 0). Host names
// that agree in their first 63 bytes but differ later are still other nodes (a hash of the
// whole name tells them apart).
NodeTable learn_nodes(Communicator& comm);

}  // namespace nxt
