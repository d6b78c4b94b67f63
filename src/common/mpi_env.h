// MPI lifetime and the process's place in the job: rank, world size and node-local rank, known
// even before MPI_Init (from the launcher's environment) so that early errors name their rank.
#pragma once
#include <mpi.h>

namespace nxt {

// Where a process sits in the job (a single process without MPI: rank 0 of 1).
struct ProcessPlace {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;  // among the ranks on this node (MPI_Comm_split_type shared)
  int local_size = 1;
};

// Note [MPI thread level]
// nxt's threads call MPI concurrently in two ways: the MPI communicator's thread runs every
// collective while training, and whichever thread decides the job must end (the watchdog, its
// monitor, the main thread's fatal-error handler) calls MPI_Abort at once, while the
// communication thread may be inside MPI_Test. At MPI_THREAD_SERIALIZED that second call is
// erroneous (the standard allows one thread in MPI at a time), so nxt asks for
// MPI_THREAD_MULTIPLE and refuses an MPI that does not provide it: Open MPI 4+ and MPICH do.
// Serialising MPI_Abort behind the communication thread instead would leave a rank unable to
// end the job while that thread is stuck in MPI, which is when it must.

// Initialises MPI with at least `required_thread_level` (Note [MPI thread level]) and finalises
// it on destruction. Throws Error naming both levels when MPI provides less.
class MpiSession {
 public:
  explicit MpiSession(int* argc, char*** argv, int required_thread_level = MPI_THREAD_MULTIPLE);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  ProcessPlace place() const { return {rank_, world_size_, local_rank_, local_size_}; }

 private:
  int rank_ = 0, world_size_ = 1, local_rank_ = 0, local_size_ = 1;
  MPI_Comm node_comm_ = MPI_COMM_NULL;
};

// This process's rank: MPI's when initialised, else the launcher's (Open MPI, PMI, Slurm), else 0.
int world_rank();

// Ends the job now: MPI_Abort when MPI is live (so no other rank waits forever), else exit.
// Safe from any thread, another thread inside MPI included (Note [MPI thread level]).
[[noreturn]] void abort_job(int exit_code);

}  // namespace nxt
