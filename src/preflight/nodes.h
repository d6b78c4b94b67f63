// The MPI communicators of the preflight's node-level measurements: the ranks of one node, and
// the nodes' leaders (the first rank of each node of comm/node_table.h's table).
#pragma once
#include <mpi.h>

#include "comm/communicator.h"
#include "comm/node_table.h"

namespace nxt {

// The two MPI communicators of the node-level measurements, freed on destruction (not while an
// exception unwinds: the job is about to be aborted).
class NodeComms {
 public:
  // Collective over MPI_COMM_WORLD, after a barrier through `comm` (bounded by its watchdog, so
  // a rank that never arrives ends the job there rather than in MPI_Comm_split, which has no
  // deadline). Checks that this node's leader rank is node table's node index.
  NodeComms(Communicator& comm, const NodeTable& nodes);
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
