// Implements the node and leader communicators of the preflight's node-level measurements
// (Note [Node communicators that cannot hang] in preflight/nodes.h).
#include "preflight/nodes.h"

#include <chrono>
#include <exception>
#include <vector>

#include "comm/watchdog.h"
#include "common/check.h"

namespace nxt {
namespace {

// Tags of the two MPI_Comm_create_group calls: a leader makes both, its node's first.
constexpr int kNodeTag = 1, kLeadersTag = 2;

// Collective over `ranks` (ranks of MPI_COMM_WORLD, in the new communicator's order).
MPI_Comm communicator_of(MPI_Group world, const std::vector<int>& ranks, int tag) {
  MPI_Group group = MPI_GROUP_NULL;
  NXT_MPI_CHECK(MPI_Group_incl(world, static_cast<int>(ranks.size()), ranks.data(), &group));
  MPI_Comm comm = MPI_COMM_NULL;
  NXT_MPI_CHECK(MPI_Comm_create_group(MPI_COMM_WORLD, group, tag, &comm));
  NXT_MPI_CHECK(MPI_Group_free(&group));
  return comm;
}

}  // namespace

NodeComms::NodeComms(const NodeTable& nodes, int rank, PreflightLimit limit) {
  std::vector<MPI_Request> arrived(1);
  NXT_MPI_CHECK(MPI_Ibarrier(MPI_COMM_WORLD, arrived.data()));
  wait_for_requests(arrived, std::chrono::microseconds(200), limit.seconds, rank,
                    "the preflight's node and leader communicators (waiting for every rank to "
                    "arrive)",
                    limit.key);
  MPI_Group world = MPI_GROUP_NULL;
  NXT_MPI_CHECK(MPI_Comm_group(MPI_COMM_WORLD, &world));
  const int node = nodes.node_of_rank.at(static_cast<size_t>(rank));
  node_ = communicator_of(world, nodes.ranks_of_node[static_cast<size_t>(node)], kNodeTag);
  if (nodes.first_rank_of(node) == rank) {
    std::vector<int> leaders;
    for (int k = 0; k < nodes.nodes(); ++k) leaders.push_back(nodes.first_rank_of(k));
    leaders_ = communicator_of(world, leaders, kLeadersTag);
  }
  NXT_MPI_CHECK(MPI_Group_free(&world));
}

NodeComms::~NodeComms() {
  if (std::uncaught_exceptions() > 0) return;  // the handler aborts the job: touch no MPI
  if (node_ != MPI_COMM_NULL) MPI_Comm_free(&node_);
  if (leaders_ != MPI_COMM_NULL) MPI_Comm_free(&leaders_);
}

}  // namespace nxt
