// Implements the NCCL communicator over comm/nccl_comm.h with c10's CUDA streams and events.
#include "comm/nccl_communicator.h"

#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <mpi.h>

#include "comm/nccl_comm.h"
#include "common/check.h"

namespace nxt {
namespace {

ncclDataType_t nccl_type(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat:
      return ncclFloat32;
    case torch::kDouble:
      return ncclFloat64;
    case torch::kHalf:
      return ncclFloat16;
    case torch::kBFloat16:
      return ncclBfloat16;
    case torch::kInt:
      return ncclInt32;
    case torch::kLong:
      return ncclInt64;
    case torch::kByte:
      return ncclUint8;
    default:
      throw Error(std::string("the NCCL communicator does not support dtype ") +
                  c10::toString(dtype));
  }
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return ncclSum;
    case ReduceOp::kAverage:
      return ncclAvg;
    case ReduceOp::kMin:
      return ncclMin;
    case ReduceOp::kMax:
      return ncclMax;
  }
  return ncclSum;
}

// wait() orders the compute stream after the collective (no host wait); wait_on_host() polls
// it against the timeout (Note [Watchdog] in comm/communicator.h).
class NcclWork final : public CommWork {
 public:
  NcclWork(std::shared_ptr<at::cuda::CUDAEvent> done, NcclComm* comm, c10::Device device,
           std::string what)
      : done_(std::move(done)), comm_(comm), device_(device), what_(std::move(what)) {}
  void wait() override {
    comm_->check_async_error();
    done_->block(c10::cuda::getCurrentCUDAStream(device_.index()));
  }
  void wait_on_host() override {
    comm_->wait_event(done_->event(), what_);
    wait();
  }

 private:
  std::shared_ptr<at::cuda::CUDAEvent> done_;
  NcclComm* comm_;
  c10::Device device_;
  std::string what_;
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(ProcessPlace place, torch::Device device, std::chrono::seconds timeout)
      : Communicator(place),
        device_(device),
        nccl_(place.rank, place.world_size, device.index(), MPI_COMM_WORLD, timeout),
        stream_(c10::cuda::getStreamFromPool(/*isHighPriority=*/true, device.index())) {}

  std::string backend_name() const override {
    return name_of(DistBackend::kNccl, kDistBackendNames);
  }

  std::shared_ptr<CommWork> all_reduce_async(torch::Tensor tensor, ReduceOp op) override {
    check_on_device(tensor);
    count_all_reduce();
    launch(tensor, [&] {
      nccl_.all_reduce(tensor.data_ptr(), tensor.numel(), nccl_type(tensor.scalar_type()),
                       nccl_op(op), stream_.stream());
    });
    auto done = std::make_shared<at::cuda::CUDAEvent>();
    done->record(stream_);
    return std::make_shared<NcclWork>(done, &nccl_, device_, collective_text("all-reduce", tensor));
  }

  void broadcast(torch::Tensor tensor, int root) override {
    check_on_device(tensor);
    launch(tensor, [&] {
      nccl_.broadcast(tensor.data_ptr(), tensor.numel(), nccl_type(tensor.scalar_type()), root,
                      stream_.stream());
    });
    finish_on_host(collective_text("broadcast", tensor));
  }

  void barrier() override {
    torch::Tensor token = torch::zeros({1}, torch::TensorOptions(device_));
    all_reduce_async(token, ReduceOp::kSum);
    finish_on_host("barrier");
  }

  std::vector<double> all_reduce_scalars(const std::vector<double>& values, ReduceOp op) override {
    return host_reduce(values, MPI_DOUBLE, op);
  }
  std::vector<int64_t> all_reduce_integers(const std::vector<int64_t>& values,
                                           ReduceOp op) override {
    return host_reduce(values, MPI_INT64_T, op);
  }

 private:
  void check_on_device(const torch::Tensor& tensor) const {
    NXT_CHECK(tensor.defined() && tensor.device() == device_ && tensor.is_contiguous(),
              "the NCCL communicator needs a contiguous tensor on ", device_.str());
  }

  // Runs `issue` on the communication stream after the compute stream's pending work, and
  // tells the caching allocator the tensor is in use there.
  template <class Issue>
  void launch(const torch::Tensor& tensor, Issue issue) {
    c10::cuda::CUDAGuard guard(device_);
    at::cuda::CUDAEvent ready;
    ready.record(c10::cuda::getCurrentCUDAStream(device_.index()));
    ready.block(stream_);
    issue();
    c10::cuda::CUDACachingAllocator::recordStream(tensor.storage().data_ptr(), stream_);
  }

  void finish_on_host(const std::string& what) {
    at::cuda::CUDAEvent done;
    done.record(stream_);
    nccl_.wait_event(done.event(), what);
  }

  template <class T>
  std::vector<T> host_reduce(const std::vector<T>& values, MPI_Datatype type, ReduceOp op) {
    std::vector<T> result = values;
    const MPI_Op ops[] = {MPI_SUM, MPI_SUM, MPI_MIN, MPI_MAX};
    std::vector<MPI_Request> request(1);
    NXT_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, result.data(), static_cast<int>(result.size()), type,
                                 ops[static_cast<int>(op)], MPI_COMM_WORLD, request.data()));
    wait_for_requests(request, std::chrono::microseconds(50), nccl_.timeout(), rank(),
                      "all-reduce of " + std::to_string(result.size()) + " host value(s)");
    if (op == ReduceOp::kAverage)
      for (T& v : result) v /= world_size();
    return result;
  }

  torch::Device device_;
  NcclComm nccl_;
  c10::cuda::CUDAStream stream_;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(ProcessPlace place, torch::Device device,
                                                     std::chrono::seconds timeout) {
  return std::make_unique<NcclCommunicator>(place, device, timeout);
}

}  // namespace nxt
