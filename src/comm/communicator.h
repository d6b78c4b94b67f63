// The communicator interface of data parallelism: rank and world, asynchronous all-reduce,
// broadcast, barrier, and exact host-side scalar reductions for metrics. Two implementations:
// MPI for CPU tensors (comm/mpi_communicator.h) and NCCL for CUDA tensors
// (comm/nccl_communicator.h), chosen once at start-up by make_communicator().
//
// Note [Collective order]
// Collectives run in the order they are issued, and every rank must issue the same collectives
// in the same order: a rank that skips one, or calls another, leaves its peers waiting for ever
// (or, worse, pairs unrelated buffers). So the code never lets a rank's own view decide whether
// a collective happens:
// - Per-step branches (a stop signal on one rank, a NaN loss, skipping a step) are decided by a
//   small all-reduce of flags that every rank makes each step, and all take the same branch.
// - Step counts come from pure functions of (dataset size, world size, batch, start position)
//   that every rank computes alike (data/sampler.h); the reducer launches buckets in a fixed
//   order, not in readiness order (comm/reducer.h).
// - Rank 0 alone looks at the run folder (out_dir/name), whose view may lag or differ on other
//   nodes: it decides whether `--resume auto` finds a checkpoint, reads the file, and
//   broadcasts the decision and the bytes; a file it cannot read fails every rank with its
//   reason. It alone writes checkpoints, metrics and logs there, between barriers.
// - Early stops and model choices that depend on evaluation are made on rank 0 and broadcast.
//
// Note [Watchdog]
// A peer that hangs without dying (a stuck GPU, a SIGSTOPped process, a lost node whose TCP
// connections linger) never fails a collective: it just never completes. So every host-side
// wait has a deadline, dist.timeout_s: a collective not done by then throws on the waiting
// rank (naming the rank, the collective and the time waited), and the job ends through
// MPI_Abort (run_guarded). The MPI communicator bounds its start-up (a rank that never joins)
// and each CommWork::wait(); NCCL bounds its start-up (non-blocking init, polled) and every
// host wait (event polling plus ncclCommGetAsyncError, then ncclCommAbort), and the trainer
// waits on the host for the last bucket before each metric read, so the read itself cannot
// hang. The deadline must exceed the longest phase in which the other ranks wait for rank 0
// (rank-0 evaluation, checkpoints).
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "comm/watchdog.h"
#include "common/config.h"
#include "common/mpi_env.h"
#include "common/torch_pch.h"

namespace nxt {

enum class ReduceOp { kSum, kAverage, kMin, kMax };

// A collective in flight. wait() returns when its result may be used by the caller's next
// operation (on a GPU: ordered on the compute stream), and rethrows the collective's failure.
// wait_on_host() returns when it has finished on the device too. Both throw when the
// communicator's timeout passes first (Note [Watchdog]).
class CommWork {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~CommWork() = default;
  virtual void wait() = 0;
  virtual void wait_on_host() { wait(); }
  // When the backend began and finished moving data (for overlap measurements); equal to
  // the epoch of Clock until known.
  Clock::time_point started() const { return started_; }
  Clock::time_point finished() const { return finished_; }

 protected:
  Clock::time_point started_{}, finished_{};
};

class Communicator {
 public:
  explicit Communicator(ProcessPlace place) : place_(place) {}
  virtual ~Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  virtual std::string backend_name() const = 0;
  // How gradients travel: "shm" (shared memory, one node), "mpi" or "nccl".
  virtual std::string allreduce_path() const { return backend_name(); }
  int rank() const { return place_.rank; }
  int world_size() const { return place_.world_size; }
  int local_rank() const { return place_.local_rank; }
  const ProcessPlace& place() const { return place_; }

  // In place over a dense contiguous tensor; returns at once.
  virtual std::shared_ptr<CommWork> all_reduce_async(torch::Tensor tensor, ReduceOp op) = 0;
  void all_reduce(torch::Tensor tensor, ReduceOp op) { all_reduce_async(tensor, op)->wait(); }
  // In place: every rank ends with `root`'s values. Blocking.
  virtual void broadcast(torch::Tensor tensor, int root) = 0;
  virtual void barrier() = 0;
  // Exact reductions of a few host numbers (metrics, flags, checksums). Blocking.
  virtual std::vector<double> all_reduce_scalars(const std::vector<double>& values,
                                                 ReduceOp op) = 0;
  virtual std::vector<int64_t> all_reduce_integers(const std::vector<int64_t>& values,
                                                   ReduceOp op) = 0;

  // All-reduce calls issued so far (tests count them against the reducer's buckets).
  int64_t all_reduce_calls() const { return all_reduce_calls_; }

 protected:
  void count_all_reduce() { ++all_reduce_calls_; }

 private:
  ProcessPlace place_;
  int64_t all_reduce_calls_ = 0;
};

// kAuto: NCCL when `device` is CUDA, else MPI. NCCL on a CPU device, or in a build without
// NCCL, is a clear error. `timeout`: Note [Watchdog].
std::unique_ptr<Communicator> make_communicator(DistBackend backend, torch::Device device,
                                                ProcessPlace place,
                                                std::chrono::seconds timeout = kDefaultTimeout);

const char* reduce_op_name(ReduceOp op);

// "all-reduce of 6.2 MB (Float)": how the watchdog's errors name a collective.
std::string collective_text(const char* name, const torch::Tensor& tensor);

}  // namespace nxt
