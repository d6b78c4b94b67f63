// The preflight's communication figures: an all-reduce sweep through the job's own Communicator
// (NCCL on GPUs, MPI / shared memory on CPUs), the all-reduce of each node's own ranks, and the
// links between nodes (each node's leader sending to the next node's). docs/cluster.md
// ("Preflight") says what each figure measures on GPU and CPU builds.
#pragma once
#include <mpi.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "comm/communicator.h"
#include "common/torch_pch.h"
#include "preflight/timing.h"

namespace nxt {

// nccl-tests' factor from algorithm to bus bandwidth of an all-reduce over n ranks: 2(n-1)/n,
// the share of the data each rank's link carries in a ring; 0 for one rank.
double all_reduce_bus_factor(int ranks);

// One all-reduce size, as nccl-tests reports it.
struct AllReduceFigure {
  int64_t bytes = 0;
  int ranks = 1;
  int64_t iterations = 0;  // timed, back to back
  double seconds = 0;      // per all-reduce: the slowest rank's mean over the iterations
  double algbw_gbs() const { return seconds > 0 ? static_cast<double>(bytes) / seconds / 1e9 : 0; }
  double busbw_gbs() const { return algbw_gbs() * all_reduce_bus_factor(ranks); }
};

// 1 KB, 4 KB, ..., 256 MB (x4 steps): the sizes of the sweep.
std::vector<int64_t> all_reduce_sweep_sizes();

// Collective over `comm`: a float32 buffer on `device` all-reduced (sum) at every sweep size,
// `budget_s` shared evenly among the sizes (at least one timed all-reduce each). Empty for a
// world of one rank.
std::vector<AllReduceFigure> all_reduce_sweep(Communicator& comm, torch::Device device,
                                              double budget_s);

// The intra-node ring's size: large enough for NVLink and shared memory to reach their plateau.
inline constexpr int64_t kNodeRingBytes = int64_t{64} << 20;

// The all-reduce of one node's ranks alone: kNodeRingBytes of float32 through a second NCCL
// communicator on GPUs, an MPI communicator (its shared-memory path) on CPUs. At most a few
// all-reduces are in flight, each waited for under the preflight's limit (Note [Bounded node
// ring] in bandwidth.cpp).
class NodeAllReduce {
 public:
  // Collective over `node_comm` (the ranks of this node; `place` is this rank's in the job):
  // starts that communicator and its buffer; nothing on a node with one rank. Its waits and
  // their messages name this rank's place in the job and `limit`.
  NodeAllReduce(MPI_Comm node_comm, const ProcessPlace& place, torch::Device device,
                PreflightLimit limit);
  ~NodeAllReduce();
  NodeAllReduce(const NodeAllReduce&) = delete;
  NodeAllReduce& operator=(const NodeAllReduce&) = delete;

  // Collective over the node's ranks: the all-reduce timed for `budget_s`, as the sweep times
  // each size; nullopt on a node with one rank. `slow`: the test hook stretches this rank's.
  // Throws an Error naming this rank, the all-reduce and the limit when one does not finish
  // within the limit (a stuck peer or GPU).
  std::optional<AllReduceFigure> measure(double budget_s, const SlowDown& slow);

 private:
  struct Path;  // the communicator, its buffer and how to time it
  std::unique_ptr<Path> path_;
};

// The size of one message on a link between nodes.
inline constexpr int64_t kLinkBytes = int64_t{64} << 20;

// Collective over `leaders` (one rank per node, leader k = node k; MPI_COMM_NULL: this rank
// leads no node and returns at once): leader k sends kLinkBytes messages from host memory to
// leader k+1 (the last to leader 0), each acknowledged, for `budget_s` in all. Links run in 2
// phases (3 with an odd node count) so that no node sends and receives at once. Returns, on
// leader k, the rate of link k -> k+1 in bytes/s as its sender measured it (the median over
// messages); nullopt with one node. Waits are bounded by `limit` (an Error names this rank, the
// link and the limit).
std::optional<double> link_to_next_node(MPI_Comm leaders, int world_rank, double budget_s,
                                        const SlowDown& slow, PreflightLimit limit);

}  // namespace nxt
