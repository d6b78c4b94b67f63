// Implements the NCCL bootstrap, the collectives, and error checking with abort.
#include "dist/nccl_comm.h"

#include <string>
#include <thread>

#include "common/check.h"
#include "dist/cuda_check.h"

namespace nxt {

NcclComm::NcclComm(int rank, int world_size, int device, MPI_Comm bootstrap) : device_(device) {
  NXT_CUDA_CHECK(cudaSetDevice(device));
  ncclUniqueId id{};
  if (rank == 0) NXT_NCCL_CHECK(ncclGetUniqueId(&id));
  NXT_MPI_CHECK(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, bootstrap));
  NXT_NCCL_CHECK(ncclCommInitRank(&comm_, world_size, id, rank));
}

NcclComm::~NcclComm() {
  if (comm_ && !aborted_) ncclCommDestroy(comm_);
}

void NcclComm::abort() {
  if (comm_ && !aborted_) ncclCommAbort(comm_);
  aborted_ = true;
}

void NcclComm::check_async_error() {
  NXT_CHECK(!aborted_, "the NCCL communicator was aborted after an earlier error");
  ncclResult_t state = ncclSuccess;
  NXT_NCCL_CHECK(ncclCommGetAsyncError(comm_, &state));
  if (state != ncclSuccess && state != ncclInProgress) {
    abort();
    throw Error(std::string("NCCL reported an error (") + ncclGetErrorString(state) +
                "); communicator aborted. A peer rank may have failed: see its log.");
  }
}

void NcclComm::abort_on_failure(ncclResult_t rc, const char* call) {
  if (rc == ncclSuccess) return;
  abort();
  throw Error(std::string(call) + " failed: " + ncclGetErrorString(rc) + "; communicator aborted");
}

void NcclComm::all_reduce(void* data, size_t count, ncclDataType_t type, ncclRedOp_t op,
                          cudaStream_t stream) {
  check_async_error();
  abort_on_failure(ncclAllReduce(data, data, count, type, op, comm_, stream), "ncclAllReduce");
}

void NcclComm::broadcast(void* data, size_t count, ncclDataType_t type, int root,
                         cudaStream_t stream) {
  check_async_error();
  abort_on_failure(ncclBroadcast(data, data, count, type, root, comm_, stream), "ncclBroadcast");
}

void NcclComm::wait_event(cudaEvent_t done, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const cudaError_t state = cudaEventQuery(done);
    if (state == cudaSuccess) return;
    if (state != cudaErrorNotReady) NXT_CUDA_CHECK(state);
    check_async_error();
    if (std::chrono::steady_clock::now() > deadline) {
      abort();
      throw Error("an NCCL collective did not finish within " + std::to_string(timeout.count()) +
                  " s; communicator aborted. A peer rank has probably stopped.");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

}  // namespace nxt
