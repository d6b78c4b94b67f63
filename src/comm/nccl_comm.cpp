// Implements the NCCL bootstrap, the collectives, and error checking with abort.
#include "comm/nccl_comm.h"

#include <cstdio>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "comm/cuda_check.h"
#include "comm/cuda_query.h"
#include "comm/watchdog.h"
#include "common/check.h"

namespace nxt {

NcclComm::NcclComm(int rank, int world_size, int device, MPI_Comm bootstrap,
                   std::chrono::seconds timeout, Names names)
    : rank_(rank),
      message_rank_(names.rank_in_job >= 0 ? names.rank_in_job : rank),
      timeout_key_(names.timeout_key),
      device_(device),
      timeout_(timeout) {
  NXT_CUDA_CHECK(cudaSetDevice(device));
  ncclUniqueId id{};
  if (rank == 0) NXT_NCCL_CHECK(ncclGetUniqueId(&id));
  std::vector<MPI_Request> request(1);
  NXT_MPI_CHECK(MPI_Ibcast(&id, sizeof id, MPI_BYTE, 0, bootstrap, request.data()));
  wait_for_requests(request, std::chrono::microseconds(200), timeout_, message_rank_,
                    "the NCCL bootstrap (MPI broadcast of the unique id)", timeout_key_);
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 14, 0)
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  const ncclResult_t rc =
      calls_.run([&] { return ncclCommInitRankConfig(&comm_, world_size, id, rank, &config); });
  settle(rc, "ncclCommInitRank");
#else
  NXT_NCCL_CHECK(ncclCommInitRank(&comm_, world_size, id, rank));
#endif
}

void NcclComm::settle(ncclResult_t rc, const char* call) {
  const auto start = std::chrono::steady_clock::now();
  while (rc == ncclInProgress) {
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (waited > static_cast<double>(timeout_.count())) {
      abort();
      throw_collective_timeout(message_rank_,
                               std::string(call) + " (NCCL_SOCKET_IFNAME? a missing peer?)", waited,
                               timeout_, timeout_key_);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
    NXT_CHECK(!aborted_, call, ": the NCCL communicator was aborted (by the watchdog?)");
    rc = async_state();
  }
  abort_on_failure(rc, call);
}

NcclComm::~NcclComm() {
  if (!comm_ || aborted_) return;
  if (std::uncaught_exceptions() > 0) {
    abort();
    return;
  }
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 14, 0)
  // Non-blocking: finalize returns ncclInProgress while it flushes; poll it with a deadline.
  try {
    settle(calls_.run([&] { return ncclCommFinalize(comm_); }), "ncclCommFinalize");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "[rank %d] %s\n", message_rank_, e.what());  // aborted by settle()
    return;
  }
#endif
  calls_.run([&] { return ncclCommDestroy(comm_); });
}

void NcclComm::abort() {
  if (!comm_ || aborted_) return;
  const bool aborted = calls_.run_within(kAbortPatience, [&] {
    if (!aborted_.exchange(true)) ncclCommAbort(comm_);
  });
  if (!aborted)
    std::fprintf(stderr,
                 "[rank %d] ncclCommAbort skipped: another thread has been inside an NCCL call "
                 "for over %lld ms (a launch blocked behind a stuck collective or a wedged GPU); "
                 "the job ends without it\n",
                 message_rank_, static_cast<long long>(kAbortPatience.count()));
}

ncclResult_t NcclComm::async_state_locked() {
  if (aborted_ || !comm_) return ncclSuccess;
  ncclResult_t state = ncclSuccess;
  const ncclResult_t rc = ncclCommGetAsyncError(comm_, &state);
  return rc != ncclSuccess ? rc : state;
}

ncclResult_t NcclComm::async_state() {
  return calls_.run([&] { return async_state_locked(); });
}

std::string NcclComm::async_error_text() {
  const ncclResult_t state =
      calls_.try_run([&] { return async_state_locked(); }).value_or(ncclSuccess);
  if (state == ncclSuccess || state == ncclInProgress) return "";
  return std::string("NCCL reported an error (") + ncclGetErrorString(state) +
         "); communicator aborted. A peer rank may have failed: see its log.";
}

void NcclComm::check_async_error() {
  NXT_CHECK(!aborted_, "the NCCL communicator was aborted after an earlier error");
  const std::string error = async_error_text();
  if (!error.empty()) {
    abort();
    throw Error(error);
  }
}

void NcclComm::abort_on_failure(ncclResult_t rc, const char* call) {
  if (rc == ncclSuccess) return;
  abort();
  throw Error(std::string(call) + " failed: " + ncclGetErrorString(rc) + "; communicator aborted");
}

template <class Call>
ncclResult_t NcclComm::enqueue(const char* name, Call call) {
  check_async_error();
  return calls_.run([&] {
    // An abort may have come between the check above and here: comm_ is freed then.
    NXT_CHECK(!aborted_, name, ": the NCCL communicator was aborted (by the watchdog?)");
    return call();
  });
}

void NcclComm::all_reduce(void* data, size_t count, ncclDataType_t type, ncclRedOp_t op,
                          cudaStream_t stream) {
  settle(enqueue("ncclAllReduce",
                 [&] { return ncclAllReduce(data, data, count, type, op, comm_, stream); }),
         "ncclAllReduce");
}

void NcclComm::broadcast(void* data, size_t count, ncclDataType_t type, int root,
                         cudaStream_t stream) {
  settle(enqueue("ncclBroadcast",
                 [&] { return ncclBroadcast(data, data, count, type, root, comm_, stream); }),
         "ncclBroadcast");
}

void NcclComm::wait_event(cudaEvent_t done, const std::string& what, std::chrono::seconds timeout,
                          const char* timeout_key) {
  try {
    wait_for_cuda_event(done, timeout, message_rank_, "NCCL " + what + " (communicator aborted)",
                        timeout_key, [this] { check_async_error(); });
  } catch (...) {
    abort();
    throw;
  }
}

}  // namespace nxt
