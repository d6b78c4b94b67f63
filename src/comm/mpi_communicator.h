// The MPI communicator for CPU tensors. One communication thread runs every collective, in the
// order issued, as non-blocking MPI calls that it polls with short sleeps: backward keeps
// running on the compute threads while a bucket is reduced, and the polling does not take a
// core away from them (a blocking MPI_Allreduce spins). That thread is the only one running
// collectives while the communicator lives; MPI_Abort may come from any thread at any time,
// hence MPI_THREAD_MULTIPLE (Note [MPI thread level], common/mpi_env.h).
//
// Every dtype the trainer uses works: float, double, int32/64, uint8, and half and bfloat16
// through custom MPI reduction ops that add in float. Counts beyond INT_MAX are split. When all
// ranks share one node, large all-reduces take the shared-memory path (comm/shm_allreduce.h).
// The constructor is collective, and bounded by dist.timeout_s like every collective: it
// throws the watchdog's error when a rank does not join in time (Note [Watchdog]). Then the
// watchdog thread starts; the communication thread marks each collective's start and end in
// the flight record.
#pragma once
#include <mpi.h>

#include <chrono>
#include <climits>
#include <functional>
#include <thread>

#include "comm/communicator.h"

namespace nxt {

struct MpiCommunicatorOptions {
  int64_t max_elements_per_call = INT_MAX;  // tests lower it to exercise the splitting
  std::chrono::microseconds poll_interval{20};
  // When every rank is on this node: all-reduces of at least shm_min_bytes go through shared
  // memory (comm/shm_allreduce.h), in chunks of shm_segment_bytes. 0 turns it off.
  size_t shm_segment_bytes = size_t{32} << 20;
  int64_t shm_min_bytes = 64 << 10;
  CommTimeouts timeouts;  // Note [Watchdog] in comm/communicator.h
};

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(ProcessPlace place, MPI_Comm comm = MPI_COMM_WORLD,
                  MpiCommunicatorOptions options = {});
  // Waits for the collectives issued so far and frees the shared segment (collective), except
  // while an exception unwinds past us: then nothing collective runs, a busy thread is left
  // running (it may wait on peers forever), and the exception's handler aborts the job.
  ~MpiCommunicator() override;

  std::string backend_name() const override {
    return name_of(DistBackend::kMpi, kDistBackendNames);
  }
  std::string allreduce_path() const override { return shared_memory_ ? "shm" : backend_name(); }
  void broadcast(torch::Tensor tensor, int root) override;
  void barrier() override;
  std::vector<double> all_reduce_scalars(const std::vector<double>& values, ReduceOp op) override;
  std::vector<int64_t> all_reduce_integers(const std::vector<int64_t>& values,
                                           ReduceOp op) override;

 private:
  class Work;
  struct Queue;  // shared with the thread, so that an abandoned thread never touches freed memory
  std::shared_ptr<CommWork> issue_all_reduce(torch::Tensor tensor, ReduceOp op,
                                             int64_t bucket) override;
  void start_up();
  // Queues `task` for the communication thread; `what` names it in errors, `kind`, `bytes` and
  // `bucket` in the flight record.
  std::shared_ptr<Work> submit(std::string what, std::string kind, int64_t bytes, int64_t bucket,
                               std::function<void()> task);
  template <class T>
  std::vector<T> reduce_host_values(const std::vector<T>& values, MPI_Datatype type, ReduceOp op);

  MPI_Comm comm_;
  MpiCommunicatorOptions options_;
  std::shared_ptr<Queue> queue_;
  std::shared_ptr<class SharedMemoryAllReduce> shared_memory_;  // null: MPI_Iallreduce only
  std::thread thread_;
};

}  // namespace nxt
