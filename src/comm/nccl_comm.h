// NCCL over raw device pointers and CUDA streams, with no LibTorch: it builds and links
// wherever the CUDA toolkit and NCCL are found, even next to a CPU-only LibTorch, so it cannot
// rot unseen. The torch-facing communicator (comm/nccl_communicator.h) wraps it.
//
// Bootstrap: rank 0's ncclUniqueId travels by a polled MPI_Ibcast, then ncclCommInitRankConfig
// runs non-blocking (NCCL >= 2.14) and is polled: a wrong NCCL_SOCKET_IFNAME or a missing peer
// ends the start-up after the timeout instead of hanging. Failure: every wait polls
// ncclCommGetAsyncError; on an error, or a peer that stops answering within the timeout, the
// communicator is aborted (ncclCommAbort, which never blocks, unlike destroy) and the caller
// gets an exception, so the job ends with a message instead of hanging (Note [Watchdog] in
// comm/communicator.h). Threads: every NCCL call on the communicator, the abort included, is
// serialised (Note [One call at a time] in comm/exclusive_calls.h); event queries go through
// comm/cuda_query.h (Note [CUDA queries]).
#pragma once
#include <cuda_runtime_api.h>
#include <mpi.h>
#include <nccl.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>

#include "comm/exclusive_calls.h"

namespace nxt {

// How an NcclComm's messages name its rank and limit, where they differ from the
// communicator's rank and dist.timeout_s (the preflight's node ring: the rank in the job, the
// preflight's cap).
struct NcclCommNames {
  int rank_in_job = -1;  // -1: the communicator's rank
  const char* timeout_key = "dist.timeout_s";
};

class NcclComm {
 public:
  using Names = NcclCommNames;
  NcclComm(int rank, int world_size, int device, MPI_Comm bootstrap, std::chrono::seconds timeout,
           Names names = {});
  // Tears down with ncclCommFinalize + ncclCommDestroy (bounded by the timeout, then aborted)
  // on a normal exit; while an exception unwinds, with ncclCommAbort alone: the error may be a
  // stuck collective, which destroy would wait for.
  ~NcclComm();
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;

  void all_reduce(void* data, size_t count, ncclDataType_t type, ncclRedOp_t op,
                  cudaStream_t stream);
  void broadcast(void* data, size_t count, ncclDataType_t type, int root, cudaStream_t stream);

  // Blocks the host until `done` has happened on the device, checking for NCCL errors; aborts
  // and throws, naming `what` and `timeout_key`, after `timeout`.
  void wait_event(cudaEvent_t done, const std::string& what, std::chrono::seconds timeout,
                  const char* timeout_key = "dist.timeout_s");
  // Throws (after aborting) if NCCL reported an asynchronous error.
  void check_async_error();
  // The asynchronous error NCCL reports, as text; "" when none, and when another thread is
  // inside an NCCL call (Note [One call at a time]). Never blocks, from any thread (the
  // watchdog's).
  std::string async_error_text();
  // Gives up on every collective without waiting for them (ncclCommAbort); from any thread.
  // Waits at most kAbortPatience for a call another thread is inside, then skips the abort,
  // saying so (the caller ends the job regardless). Later calls on the communicator throw.
  void abort();
  static constexpr std::chrono::milliseconds kAbortPatience{5000};

  int device() const { return device_; }
  std::chrono::seconds timeout() const { return timeout_; }

 private:
  void abort_on_failure(ncclResult_t rc, const char* call);
  // Checks for an asynchronous error, then runs `call` (an ncclAllReduce, ...) under calls_
  // unless the communicator was aborted meanwhile.
  template <class Call>
  ncclResult_t enqueue(const char* name, Call call);
  // A non-blocking communicator's call may return ncclInProgress: poll until it has settled.
  void settle(ncclResult_t rc, const char* call);
  // ncclCommGetAsyncError; ncclSuccess once aborted. The caller holds calls_.
  ncclResult_t async_state_locked();
  // async_state_locked() under calls_.
  ncclResult_t async_state();

  ncclComm_t comm_ = nullptr;
  int rank_ = 0;          // in this communicator
  int message_rank_ = 0;  // in the job, for messages
  const char* timeout_key_ = "dist.timeout_s";
  int device_ = 0;
  std::chrono::seconds timeout_;
  // Every NCCL call on comm_ (Note [One call at a time]).
  ExclusiveCalls calls_;
  // Set (under calls_) before ncclCommAbort frees comm_: a call that finds it set throws.
  std::atomic<bool> aborted_{false};
};

}  // namespace nxt
