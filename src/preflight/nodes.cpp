// Implements the node and leader communicators of the preflight's node-level measurements.
#include "preflight/nodes.h"

#include <exception>

#include "common/check.h"

namespace nxt {

NodeComms::NodeComms(Communicator& comm, const NodeTable& nodes) {
  comm.barrier();
  const int rank = comm.rank();
  NXT_MPI_CHECK(
      MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node_));
  const bool leader = comm.local_rank() == 0;
  NXT_MPI_CHECK(MPI_Comm_split(MPI_COMM_WORLD, leader ? 0 : MPI_UNDEFINED, rank, &leaders_));
  if (!leader) return;
  int index = -1;
  NXT_MPI_CHECK(MPI_Comm_rank(leaders_, &index));
  NXT_CHECK(index == nodes.node_of_rank[static_cast<size_t>(rank)], "preflight: rank ", rank,
            " leads node ", nodes.node_of_rank[static_cast<size_t>(rank)], " (",
            nodes.host_of_node[nodes.node_of_rank[static_cast<size_t>(rank)]], ") but is leader ",
            index, " in MPI's order");
}

NodeComms::~NodeComms() {
  if (std::uncaught_exceptions() > 0) return;  // the handler aborts the job: touch no MPI
  if (node_ != MPI_COMM_NULL) MPI_Comm_free(&node_);
  if (leaders_ != MPI_COMM_NULL) MPI_Comm_free(&leaders_);
}

}  // namespace nxt
