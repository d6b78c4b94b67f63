// Implements the NCCL communicator over comm/nccl_comm.h with c10's CUDA streams and events.
#include "comm/nccl_communicator.h"

#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <mpi.h>

#include <mutex>
#include <optional>

#include "comm/cuda_query.h"
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

// Note [Device clock]
// A collective's start and end are known on the device's timeline only: cudaEventElapsedTime
// between two events, in float milliseconds. Measured from one event recorded at start-up,
// those lose precision within hours (a float's step passes 1 ms at 4.6 hours) and drift from
// the host's clock. So the clock keeps an anchor, an event recorded on the idle communication
// stream with the host time beside it (an event on an idle stream completes at once), and
// renews it whenever it is older than kAnchorMaxAge and the stream is idle (between steps,
// always); each collective keeps the anchor of its launch, so its elapsed times stay seconds
// long. The first anchor is waited for, with the collective deadline.
class DeviceClock {
 public:
  struct Anchor {
    at::cuda::CUDAEvent event{cudaEventDefault};
    CommWork::Clock::time_point host;
  };
  static constexpr std::chrono::seconds kAnchorMaxAge{10};

  DeviceClock(const c10::cuda::CUDAStream& stream, int rank, std::chrono::seconds timeout) {
    auto first = std::make_shared<Anchor>();
    first->event.record(stream);
    wait_for_cuda_event(first->event.event(), timeout, rank,
                        "the first event on the NCCL stream (start-up)");
    first->host = CommWork::Clock::now();
    anchor_ = std::move(first);
  }
  // The anchor for a collective about to be launched on `stream` (from the autograd thread's
  // bucket hooks or the main thread).
  std::shared_ptr<const Anchor> anchor(const c10::cuda::CUDAStream& stream) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (CommWork::Clock::now() - anchor_->host > kAnchorMaxAge &&
        NXT_CUDA_STREAM_IDLE(stream.stream())) {
      auto fresh = std::make_shared<Anchor>();
      fresh->event.record(stream);
      fresh->host = CommWork::Clock::now();
      anchor_ = std::move(fresh);
    }
    return anchor_;
  }
  // The host time of `event`, recorded after `anchor`; nullopt while it is pending.
  static std::optional<CommWork::Clock::time_point> at(const Anchor& anchor,
                                                       const at::cuda::CUDAEvent& event) {
    if (!cuda_event_done(event.event())) return std::nullopt;
    const double ms = anchor.event.elapsed_time(event);
    return anchor.host + std::chrono::duration_cast<CommWork::Clock::duration>(
                             std::chrono::duration<double, std::milli>(ms));
  }

 private:
  std::mutex mutex_;
  std::shared_ptr<const Anchor> anchor_;
};

// The start and done events of one collective on the NCCL stream, and its clock anchor.
struct NcclEvents {
  std::shared_ptr<at::cuda::CUDAEvent> start, done;
  std::shared_ptr<const DeviceClock::Anchor> anchor;
};

// wait() orders the compute stream after the collective (no host wait); wait_on_host() polls
// it against its deadline (Note [Watchdog] in comm/communicator.h). started()/finished() are
// the device's start and end of the collective (Note [Device clock]), known once it has
// finished.
class NcclWork final : public CommWork {
 public:
  NcclWork(NcclEvents events, NcclComm* comm, c10::Device device, std::string what,
           std::chrono::seconds timeout, const char* timeout_key)
      : events_(std::move(events)),
        comm_(comm),
        device_(device),
        what_(std::move(what)),
        timeout_(timeout),
        timeout_key_(timeout_key) {}
  void wait() override {
    comm_->check_async_error();
    events_.done->block(c10::cuda::getCurrentCUDAStream(device_.index()));
  }
  void wait_on_host() override {
    comm_->wait_event(events_.done->event(), what_, timeout_, timeout_key_);
    wait();
  }
  std::optional<Clock::time_point> started() const override {
    return finished() ? DeviceClock::at(*events_.anchor, *events_.start) : std::nullopt;
  }
  std::optional<Clock::time_point> finished() const override {
    return DeviceClock::at(*events_.anchor, *events_.done);
  }

 private:
  NcclEvents events_;
  NcclComm* comm_;
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
        clock_(stream_, place.rank, timeouts.collective) {
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
    const NcclEvents events = launch(tensor, "broadcast", -1, [&] {
      nccl_.broadcast(tensor.data_ptr(), tensor.numel(), nccl_type(tensor.scalar_type()), root,
                      stream_.stream());
    });
    nccl_.wait_event(events.done->event(), collective_text("broadcast", tensor), deadline.limit,
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
    NcclEvents events = launch(tensor, "all-reduce", bucket, [&] {
      nccl_.all_reduce(tensor.data_ptr(), tensor.numel(), nccl_type(tensor.scalar_type()),
                       nccl_op(op), stream_.stream());
    });
    return std::make_shared<NcclWork>(std::move(events), &nccl_, device_,
                                      collective_text("all-reduce", tensor), deadline.limit,
                                      deadline.key);
  }

  void check_on_device(const torch::Tensor& tensor) const {
    NXT_CHECK(tensor.defined() && tensor.device() == device_ && tensor.is_contiguous(),
              "the NCCL communicator needs a contiguous tensor on ", device_.str());
  }

  // Runs `issue` on the communication stream after the compute stream's pending work, between
  // a start and a done timing event, tells the caching allocator the tensor is in use there,
  // and records the collective in the flight record, whose watchdog probes the two events
  // (Note [CUDA queries] in comm/cuda_query.h: never a raw cudaEventQuery).
  template <class Issue>
  NcclEvents launch(const torch::Tensor& tensor, const char* kind, int64_t bucket, Issue issue) {
    c10::cuda::CUDAGuard guard(device_);
    at::cuda::CUDAEvent ready;
    ready.record(c10::cuda::getCurrentCUDAStream(device_.index()));
    ready.block(stream_);
    NcclEvents events{std::make_shared<at::cuda::CUDAEvent>(cudaEventDefault),
                      std::make_shared<at::cuda::CUDAEvent>(cudaEventDefault),
                      clock_.anchor(stream_)};
    events.start->record(stream_);
    issue();
    events.done->record(stream_);
    c10::cuda::CUDACachingAllocator::recordStream(tensor.storage().data_ptr(), stream_);
    record(kind, tensor.numel() * tensor.element_size(), bucket,
           [start = events.start, done = events.done] {
             if (cuda_event_done(done->event())) return CollectiveProgress::kFinished;
             return cuda_event_done(start->event()) ? CollectiveProgress::kRunning
                                                    : CollectiveProgress::kQueued;
           });
    return events;
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
