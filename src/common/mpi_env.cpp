// Implements MpiSession and the rank look-up used by logging and fatal errors.
#include "common/mpi_env.h"

#include <cstdlib>
#include <exception>
#include <string>

#include "common/check.h"

namespace nxt {
namespace {

bool mpi_is_live() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

// Set once MPI is up, so that logging never calls MPI: a log line from any thread stays a
// plain write, never a call that waits on MPI's internal locks.
int cached_rank = -1;

int rank_from_launcher_env() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"}) {
    if (const char* value = std::getenv(name)) return std::atoi(value);
  }
  return 0;
}

const char* thread_level_name(int level) {
  switch (level) {
    case MPI_THREAD_SINGLE:
      return "MPI_THREAD_SINGLE";
    case MPI_THREAD_FUNNELED:
      return "MPI_THREAD_FUNNELED";
    case MPI_THREAD_SERIALIZED:
      return "MPI_THREAD_SERIALIZED";
    case MPI_THREAD_MULTIPLE:
      return "MPI_THREAD_MULTIPLE";
    default:
      return "an unknown thread level";
  }
}

}  // namespace

MpiSession::MpiSession(int* argc, char*** argv, int required_thread_level) {
  int provided = MPI_THREAD_SINGLE;
  NXT_MPI_CHECK(MPI_Init_thread(argc, argv, required_thread_level, &provided));
  // Errors come back to us, so CHECK can report them with file:line before aborting.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  NXT_CHECK(provided >= required_thread_level, "MPI provides thread level ",
            thread_level_name(provided), " but nxt needs ",
            thread_level_name(required_thread_level),
            " (Note [MPI thread level], src/common/mpi_env.h): use an MPI built with thread "
            "support (Open MPI 4+, MPICH)");
  NXT_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  NXT_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &world_size_));
  cached_rank = rank_;
  // Ranks sharing a node (and so its GPUs): works under mpirun and srun --mpi=pmix alike.
  NXT_MPI_CHECK(
      MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node_comm_));
  NXT_MPI_CHECK(MPI_Comm_rank(node_comm_, &local_rank_));
  NXT_MPI_CHECK(MPI_Comm_size(node_comm_, &local_size_));
}

MpiSession::~MpiSession() {
  // Leaving by an exception: keep MPI up, so that the handler can MPI_Abort the whole job
  // (MPI_Finalize could wait forever for peers that are blocked in a collective with us).
  if (!mpi_is_live() || std::uncaught_exceptions() > 0) return;
  if (node_comm_ != MPI_COMM_NULL) MPI_Comm_free(&node_comm_);
  MPI_Finalize();
}

int world_rank() {
  if (cached_rank >= 0) return cached_rank;
  if (mpi_is_live()) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank;
  }
  return rank_from_launcher_env();
}

void abort_job(int exit_code) {
  if (mpi_is_live()) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);
}

}  // namespace nxt
