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

// Host time of the device's timeline: a timing event recorded and waited for once, so that
// another event's time is `host + (event - reference)` (cudaEventElapsedTime).
struct DeviceClock {
  at::cuda::CUDAEvent reference{cudaEventDefault};
  CommWork::Clock::time_point host;
  explicit DeviceClock(const c10::cuda::CUDAStream& stream) {
    reference.record(stream);
    reference.synchronize();
    host = CommWork::Clock::now();
  }
  // The host time of a completed timing event; the epoch of the clock while it is pending.
  CommWork::Clock::time_point at(const at::cuda::CUDAEvent& event) const {
    if (!event.query()) return {};
    const double ms = reference.elapsed_time(event);
    return host + std::chrono::duration_cast<CommWork::Clock::duration>(
                      std::chrono::duration<double, std::milli>(ms));
  }
};

// wait() orders the compute stream after the collective (no host wait); wait_on_host() polls
// it against its deadline (Note [Watchdog] in comm/communicator.h). started()/finished() are
// the device's start and end of the collective (timing events around it on the NCCL stream),
// known once it has finished.
class NcclWork final : public CommWork {
 public:
  NcclWork(std::shared_ptr<at::cuda::CUDAEvent> start, std::shared_ptr<at::cuda::CUDAEvent> done,
           NcclComm* comm, const DeviceClock* clock, c10::Device device, std::string what,
           std::chrono::seconds timeout, const char* timeout_key)
      : start_(std::move(start)),
        done_(std::move(done)),
        comm_(comm),
        clock_(clock),
        device_(device),
        what_(std::move(what)),
        timeout_(timeout),
        timeout_key_(timeout_key) {}
  void wait() override {
    comm_->check_async_error();
    done_->block(c10::cuda::getCurrentCUDAStream(device_.index()));
  }
  void wait_on_host() override {
    comm_->wait_event(done_->event(), what_, timeout_, timeout_key_);
    wait();
  }
  Clock::time_point started() const override { return clock_->at(*start_); }
  Clock::time_point finished() const override { return clock_->at(*done_); }

 private:
  std::shared_ptr<at::cuda::CUDAEvent> start_, done_;
  NcclComm* comm_;
  const DeviceClock* clock_;
  c10::Device device_;
  std::string what_;
  std::chrono::seconds timeout_;
  const char* timeout_key_;
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(ProcessPlace place, torch::Device device, CommTimeouts timeouts)
      : Communicator(place, timeouts),
        device_(device),
        nccl_(place.rank, place.world_size, device.index(), MPI_COMM_WORLD, timeouts.collective),
        stream_(c10::cuda::getStreamFromPool(/*isHighPriority=*/true, device.index())),
        clock_(stream_) {
    start_watchdog({[this] { return nccl_.async_error_text(); }, [this] { nccl_.abort(); },
                    [index = device.index()] { c10::cuda::set_device(index); }});
  }
  ~NcclCommunicator() override { stop_watchdog(); }

  std::string backend_name() const override {
    return name_of(DistBackend::kNccl, kDistBackendNames);
  }

  void broadcast(torch::Tensor tensor, int root) override {
    check_on_device(tensor);
    const Deadline deadline = deadline_now();
    auto done = launch(tensor, "broadcast", -1, [&] {
      nccl_.broadcast(tensor.data_ptr(), tensor.numel(), nccl_type(tensor.scalar_type()), root,
                      stream_.stream());
    });
    nccl_.wait_event(done.second->event(), collective_text("broadcast", tensor), deadline.limit,
                     deadline.key);
  }

  void barrier() override {
    torch::Tensor token = torch::zeros({1}, torch::TensorOptions(device_));
    all_reduce_async(token, ReduceOp::kSum)->wait_on_host();
  }

  std::vector<double> all_reduce_scalars(const std::vector<double>& values, ReduceOp op) override {
    return host_reduce(values, MPI_DOUBLE, op);
  }
  std::vector<int64_t> all_reduce_integers(const std::vector<int64_t>& values,
                                           ReduceOp op) override {
    return host_reduce(values, MPI_INT64_T, op);
  }

 private:
  std::shared_ptr<CommWork> issue_all_reduce(torch::Tensor tensor, ReduceOp op,
                                             int64_t bucket) override {
    check_on_device(tensor);
    count_all_reduce();
    const Deadline deadline = deadline_now();
    auto events = launch(tensor, "all-reduce", bucket, [&] {
      nccl_.all_reduce(tensor.data_ptr(), tensor.numel(), nccl_type(tensor.scalar_type()),
                       nccl_op(op), stream_.stream());
    });
    return std::make_shared<NcclWork>(events.first, events.second, &nccl_, &clock_, device_,
                                      collective_text("all-reduce", tensor), deadline.limit,
                                      deadline.key);
  }

  void check_on_device(const torch::Tensor& tensor) const {
    NXT_CHECK(tensor.defined() && tensor.device() == device_ && tensor.is_contiguous(),
              "the NCCL communicator needs a contiguous tensor on ", device_.str());
  }

  // Runs `issue` on the communication stream after the compute stream's pending work, between
  // a start and a done timing event, tells the caching allocator the tensor is in use there,
  // and records the collective in the flight record (the watchdog probes the done event).
  template <class Issue>
  std::pair<std::shared_ptr<at::cuda::CUDAEvent>, std::shared_ptr<at::cuda::CUDAEvent>> launch(
      const torch::Tensor& tensor, const char* kind, int64_t bucket, Issue issue) {
    c10::cuda::CUDAGuard guard(device_);
    at::cuda::CUDAEvent ready;
    ready.record(c10::cuda::getCurrentCUDAStream(device_.index()));
    ready.block(stream_);
    auto start = std::make_shared<at::cuda::CUDAEvent>(cudaEventDefault);
    auto done = std::make_shared<at::cuda::CUDAEvent>(cudaEventDefault);
    start->record(stream_);
    issue();
    done->record(stream_);
    c10::cuda::CUDACachingAllocator::recordStream(tensor.storage().data_ptr(), stream_);
    record(kind, tensor.numel() * tensor.element_size(), bucket,
           [done] { return cudaEventQuery(done->event()) == cudaSuccess; });
    return {start, done};
  }

  template <class T>
  std::vector<T> host_reduce(const std::vector<T>& values, MPI_Datatype type, ReduceOp op) {
    std::vector<T> result = values;
    const MPI_Op ops[] = {MPI_SUM, MPI_SUM, MPI_MIN, MPI_MAX};
    const Deadline deadline = deadline_now();
    const int64_t sequence =
        record("host all-reduce", static_cast<int64_t>(result.size() * sizeof(T)), -1);
    std::vector<MPI_Request> request(1);
    NXT_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, result.data(), static_cast<int>(result.size()), type,
                                 ops[static_cast<int>(op)], MPI_COMM_WORLD, request.data()));
    wait_for_requests(request, std::chrono::microseconds(50), deadline.limit, rank(),
                      "all-reduce of " + std::to_string(result.size()) + " host value(s)",
                      deadline.key);
    flight()->mark_finished(sequence);
    if (op == ReduceOp::kAverage)
      for (T& v : result) v /= world_size();
    return result;
  }

  torch::Device device_;
  NcclComm nccl_;
  c10::cuda::CUDAStream stream_;
  DeviceClock clock_;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(ProcessPlace place, torch::Device device,
                                                     CommTimeouts timeouts) {
  return std::make_unique<NcclCommunicator>(place, device, timeouts);
}

}  // namespace nxt
