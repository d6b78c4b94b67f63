// The MPI communicators of the preflight's node-level measurements: the ranks of one node, and
// the nodes' leaders (the first rank of each node of comm/node_table.h's table).
#pragma once
#include <mpi.h>

#include "comm/node_table.h"
#include "preflight/timing.h"

namespace nxt {

// The two MPI communicators of the node-level measurements, freed on destruction (not while an
// exception unwinds: the job is about to be aborted).
//
// Note [Node communicators that cannot hang]
// Making a communicator is a blocking collective in MPI, with no deadline: a rank that never
// arrives (stuck on its node, SIGSTOPped) would hold its peers there for ever, out of reach of
// any watchdog. So every rank first waits for all the others in a polled MPI_Ibarrier under the
// preflight's limit (an Error naming this rank, the wait and the limit when one never comes),
// and only then, with nothing between that could block, makes its communicators with
// MPI_Comm_create_group over the ranks the node table names: collective over those ranks alone
// (a node's, then the leaders), all known to be present. The table's nodes are MPI's
// (NodeTable::check_matches_mpi, which the preflight runs first), and the leaders' group lists
// them in node order, so leader k is node k by construction.
class NodeComms {
 public:
  // Collective over MPI_COMM_WORLD: `rank` is this rank's in the job, `nodes` the job's node
  // table. Throws an Error naming `rank` and `limit` when a rank does not arrive within
  // `limit`.
  NodeComms(const NodeTable& nodes, int rank, PreflightLimit limit);
  ~NodeComms();
  NodeComms(const NodeComms&) = delete;
  NodeComms& operator=(const NodeComms&) = delete;

  MPI_Comm node() const { return node_; }  // the ranks of this node, ordered by rank
  // The nodes' leaders, leader k = node k; MPI_COMM_NULL on ranks that do not lead a node.
  MPI_Comm leaders() const { return leaders_; }

 private:
  MPI_Comm node_ = MPI_COMM_NULL, leaders_ = MPI_COMM_NULL;
};

}  // namespace nxt
