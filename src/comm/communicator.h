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
// connections linger) never fails a collective: it just never completes. Nor can the rank that
// waits for it rely on its main thread to notice: on a GPU the host goes on queuing kernels
// until the CUDA launch queue is full and then blocks inside a launch, never reaching a
// deadline check. So each communicator has a watchdog thread (CollectiveWatchdog in
// comm/watchdog.h) and a flight recorder (comm/flight_recorder.h) of its last 64 collectives:
// every collective is recorded when issued, marked when it starts and ends (MPI: by the
// communication thread; NCCL: the watchdog queries its done event), and when the oldest
// unfinished one is older than its deadline, or NCCL reports an asynchronous error
// (ncclCommGetAsyncError), the watchdog prints the rank, the collective, its sequence number
// (the same on every rank: Note [Collective order]) and the time waited, then the flight
// record (stderr, and flight_rank<N>.json in the run folder where the rank sees it), aborts
// NCCL (ncclCommAbort, never ncclCommDestroy, which waits for the stuck kernel) and ends the
// job with MPI_Abort. Host waits keep their own deadline as a second line (the MPI
// CommWork::wait(), NCCL's wait_on_host(), start-up, which runs before the thread exists), and
// throw to run_guarded, which aborts the job; the throw (throw_collective_timeout) leaves the
// flight record first, so it is there whichever thread notices. The watchdog must itself never
// hang: it probes without the recorder's lock, never waits for a call another thread is inside
// (Note [One call at a time] in comm/exclusive_calls.h), and a monitor thread ends the rank if
// one of its checks stalls (Note [Watchdog monitor] in comm/watchdog.cpp).
//
// The deadline is dist.timeout_s, except in a rank-0 phase: while rank 0 works alone
// (rank-0 evaluation of the whole val split, the host copy of a checkpoint and a stop
// signal's synchronous write, files rank 0 reads and broadcasts), the other ranks wait in a
// collective for as long as it takes, which may be far longer than any collective. So the trainer
// opens a Communicator::Rank0Phase around each such phase, and the collectives that ranks 1..N-1
// issue inside it get dist.rank0_phase_timeout_s (default 3600 s). A separate limit rather than a
// heartbeat from rank 0: a heartbeat would need a second channel that keeps working while the first
// is stuck, and a limit is what the user can reason about. Rank 0's own collectives keep
// dist.timeout_s: when its phase ends the others are already waiting, so they complete at once
// unless a peer is really stuck.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "comm/flight_recorder.h"
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
  // When the backend began and finished moving data (for overlap measurements); nullopt until
  // known (on a GPU: until the collective has finished on the device). Call from the thread
  // that issued the collective, after wait().
  virtual std::optional<Clock::time_point> started() const = 0;
  virtual std::optional<Clock::time_point> finished() const = 0;
};

// Note [Watchdog]: the deadlines of collectives.
struct CommTimeouts {
  std::chrono::seconds collective = kDefaultTimeout;             // dist.timeout_s
  std::chrono::seconds rank0_phase = kDefaultRank0PhaseTimeout;  // dist.rank0_phase_timeout_s
};

class Communicator {
 public:
  Communicator(ProcessPlace place, CommTimeouts timeouts)
      : place_(place), timeouts_(timeouts), flight_(std::make_shared<FlightRecorder>()) {}
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

  // In place over a dense contiguous tensor; returns at once. `bucket`: the reducer's bucket
  // index, for the flight record (-1: not a gradient bucket).
  std::shared_ptr<CommWork> all_reduce_async(torch::Tensor tensor, ReduceOp op,
                                             int64_t bucket = -1) {
    return issue_all_reduce(std::move(tensor), op, bucket);
  }
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

  // While one is alive, the collectives this rank issues get dist.rank0_phase_timeout_s
  // instead of dist.timeout_s, on every rank but 0 (Note [Watchdog]). Open it on every rank
  // around a phase in which rank 0 works alone.
  class Rank0Phase {
   public:
    explicit Rank0Phase(Communicator& comm) : comm_(comm) { ++comm_.rank0_phases_; }
    ~Rank0Phase() { --comm_.rank0_phases_; }
    Rank0Phase(const Rank0Phase&) = delete;
    Rank0Phase& operator=(const Rank0Phase&) = delete;

   private:
    Communicator& comm_;
  };

  // This rank's last collectives (Note [Watchdog]).
  const FlightRecorder& flight_recorder() const { return *flight_; }
  // Where the watchdog writes flight_rank<N>.json if it fires (the run folder).
  void set_flight_record_dir(const std::string& dir) {
    if (watchdog_) watchdog_->set_record_dir(dir);
  }

 protected:
  struct Deadline {
    std::chrono::seconds limit;
    const char* key;  // the config key, for messages
  };
  virtual std::shared_ptr<CommWork> issue_all_reduce(torch::Tensor tensor, ReduceOp op,
                                                     int64_t bucket) = 0;
  void count_all_reduce() { ++all_reduce_calls_; }
  const CommTimeouts& timeouts() const { return timeouts_; }
  // The deadline of a collective issued now.
  Deadline deadline_now() const {
    if (rank0_phases_ > 0 && rank() != 0)
      return {timeouts_.rank0_phase, "dist.rank0_phase_timeout_s"};
    return {timeouts_.collective, "dist.timeout_s"};
  }
  // Records a collective issued now with deadline_now(); returns its sequence number.
  int64_t record(std::string kind, int64_t bytes, int64_t bucket,
                 FlightRecorder::ProgressProbe probe = nullptr) {
    const Deadline deadline = deadline_now();
    return flight_->enqueue(std::move(kind), bytes, bucket, deadline.limit, deadline.key,
                            std::move(probe));
  }
  const std::shared_ptr<FlightRecorder>& flight() const { return flight_; }
  // Implementations start the watchdog once constructed, and stop it first thing in their
  // destructor (its hooks may use their members).
  void start_watchdog(CollectiveWatchdog::Hooks hooks) {
    watchdog_ = std::make_unique<CollectiveWatchdog>(
        flight_, rank(), std::move(hooks), std::chrono::milliseconds(250), timeouts_.collective);
  }
  void stop_watchdog() { watchdog_.reset(); }

 private:
  ProcessPlace place_;
  CommTimeouts timeouts_;
  int64_t all_reduce_calls_ = 0;
  std::atomic<int> rank0_phases_{0};
  std::shared_ptr<FlightRecorder> flight_;
  std::unique_ptr<CollectiveWatchdog> watchdog_;
};

// kAuto: NCCL when `device` is CUDA, else MPI. NCCL on a CPU device, or in a build without
// NCCL, is a clear error. `timeouts`: Note [Watchdog].
std::unique_ptr<Communicator> make_communicator(DistBackend backend, torch::Device device,
                                                ProcessPlace place, CommTimeouts timeouts = {});

const char* reduce_op_name(ReduceOp op);

// "all-reduce of 6.2 MB (Float)": how the watchdog's errors name a collective.
std::string collective_text(const char* name, const torch::Tensor& tensor);

}  // namespace nxt
