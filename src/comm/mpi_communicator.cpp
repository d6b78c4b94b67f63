// Implements the MPI communicator: the work queue and its thread, dtype and op mapping, the
// 16-bit float reduction ops, chunking, and polling completion.
#include "comm/mpi_communicator.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

#include "comm/shm_allreduce.h"
#include "common/check.h"

namespace nxt {
namespace {

// ---- 16-bit floats: MPI has no half/bfloat16 type, so they travel as uint16 and are combined
// in float by user-defined ops.
template <class T, class Combine>
void combine_16bit(void* in, void* inout, int* length, MPI_Datatype*) {
  const auto* a = static_cast<const T*>(in);
  auto* b = static_cast<T*>(inout);
  for (int i = 0; i < *length; ++i)
    b[i] = T(Combine{}(static_cast<float>(a[i]), static_cast<float>(b[i])));
}
struct Add {
  float operator()(float a, float b) const { return a + b; }
};
struct Min {
  float operator()(float a, float b) const { return std::min(a, b); }
};
struct Max {
  float operator()(float a, float b) const { return std::max(a, b); }
};

// Ops created once per process, on first use, before the communication thread starts.
struct SixteenBitOps {
  MPI_Op half[3], bfloat[3];  // sum, min, max
  SixteenBitOps() {
    NXT_MPI_CHECK(MPI_Op_create(&combine_16bit<c10::Half, Add>, 1, &half[0]));
    NXT_MPI_CHECK(MPI_Op_create(&combine_16bit<c10::Half, Min>, 1, &half[1]));
    NXT_MPI_CHECK(MPI_Op_create(&combine_16bit<c10::Half, Max>, 1, &half[2]));
    NXT_MPI_CHECK(MPI_Op_create(&combine_16bit<c10::BFloat16, Add>, 1, &bfloat[0]));
    NXT_MPI_CHECK(MPI_Op_create(&combine_16bit<c10::BFloat16, Min>, 1, &bfloat[1]));
    NXT_MPI_CHECK(MPI_Op_create(&combine_16bit<c10::BFloat16, Max>, 1, &bfloat[2]));
  }
};
const SixteenBitOps& sixteen_bit_ops() {
  static const SixteenBitOps ops;
  return ops;
}

int op_slot(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAverage:
      return 0;
    case ReduceOp::kMin:
      return 1;
    case ReduceOp::kMax:
      return 2;
  }
  return 0;
}

MPI_Op builtin_op(ReduceOp op) {
  const MPI_Op ops[] = {MPI_SUM, MPI_MIN, MPI_MAX};
  return ops[op_slot(op)];
}

struct MpiTypeAndOp {
  MPI_Datatype type;
  MPI_Op op;
};

MpiTypeAndOp mpi_type_and_op(torch::ScalarType dtype, ReduceOp op) {
  switch (dtype) {
    case torch::kFloat:
      return {MPI_FLOAT, builtin_op(op)};
    case torch::kDouble:
      return {MPI_DOUBLE, builtin_op(op)};
    case torch::kInt:
      return {MPI_INT32_T, builtin_op(op)};
    case torch::kLong:
      return {MPI_INT64_T, builtin_op(op)};
    case torch::kByte:
      return {MPI_UINT8_T, builtin_op(op)};
    case torch::kHalf:
      return {MPI_UINT16_T, sixteen_bit_ops().half[op_slot(op)]};
    case torch::kBFloat16:
      return {MPI_UINT16_T, sixteen_bit_ops().bfloat[op_slot(op)]};
    default:
      throw Error(std::string("the MPI communicator does not support dtype ") +
                  c10::toString(dtype));
  }
}

// The communication thread's wait: polled (see the header), with no deadline of its own; the
// caller's Work::wait() has it (Note [Watchdog]).
void wait_for(std::vector<MPI_Request>& requests, std::chrono::microseconds poll_interval) {
  wait_for_requests(requests, poll_interval, kNoTimeout, -1, "");
}

// Issues one non-blocking call per chunk of at most max_elements_per_call, then waits.
template <class Issue>
void run_chunked(const torch::Tensor& tensor, const MpiCommunicatorOptions& options, Issue issue) {
  auto* data = static_cast<char*>(tensor.data_ptr());
  const int64_t n = tensor.numel(), element = tensor.element_size();
  std::vector<MPI_Request> requests;
  for (int64_t first = 0; first < n; first += options.max_elements_per_call) {
    const auto count = static_cast<int>(std::min(options.max_elements_per_call, n - first));
    requests.emplace_back();
    issue(data + first * element, count, &requests.back());
  }
  wait_for(requests, options.poll_interval);
}

// The shared-memory element type for `dtype`, if that path handles it.
std::optional<ShmElement> shm_element(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat:
      return ShmElement::kFloat32;
    case torch::kDouble:
      return ShmElement::kFloat64;
    case torch::kInt:
      return ShmElement::kInt32;
    case torch::kLong:
      return ShmElement::kInt64;
    case torch::kByte:
      return ShmElement::kUInt8;
    default:
      return std::nullopt;  // 16-bit floats: MPI with the custom ops
  }
}

ShmCombine shm_combine(ReduceOp op) {
  const ShmCombine combines[] = {ShmCombine::kSum, ShmCombine::kMin, ShmCombine::kMax};
  return combines[op_slot(op)];
}

void check_communicable(const torch::Tensor& tensor, const char* what) {
  NXT_CHECK(tensor.defined() && tensor.is_cpu() && tensor.is_contiguous(), what,
            ": the MPI communicator needs a dense contiguous CPU tensor");
}

}  // namespace

// A collective run by the communication thread; wait() blocks until it has finished, or throws
// when the timeout passes first (Note [Watchdog]): the thread may be polling a peer that will
// never answer, and is then abandoned while the job aborts.
class MpiCommunicator::Work final : public CommWork {
 public:
  Work(std::string what, int rank, std::chrono::seconds timeout, const char* timeout_key,
       std::shared_ptr<FlightRecorder> flight, int64_t sequence)
      : what_(std::move(what)),
        rank_(rank),
        timeout_(timeout),
        timeout_key_(timeout_key),
        flight_(std::move(flight)),
        sequence_(sequence) {}
  void wait() override {
    const auto since = Clock::now();
    std::unique_lock<std::mutex> lock(mutex_);
    if (!done_changed_.wait_for(lock, timeout_, [&] { return done_; }))
      throw_collective_timeout(rank_, what_,
                               std::chrono::duration<double>(Clock::now() - since).count(),
                               timeout_, timeout_key_);
    if (failure_) std::rethrow_exception(failure_);
  }
  void start() {
    const auto now = Clock::now();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      started_ = now;
    }
    flight_->mark_started(sequence_, now);
  }
  void finish(std::exception_ptr failure) {
    const auto now = Clock::now();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      finished_ = now;
      failure_ = failure;
      done_ = true;
    }
    flight_->mark_finished(sequence_, now);
    done_changed_.notify_all();
  }
  std::optional<Clock::time_point> started() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return started_;
  }
  std::optional<Clock::time_point> finished() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return finished_;
  }

 private:
  const std::string what_;
  const int rank_;
  const std::chrono::seconds timeout_;
  const char* const timeout_key_;
  const std::shared_ptr<FlightRecorder> flight_;  // outlives us if the thread is abandoned
  const int64_t sequence_;
  mutable std::mutex mutex_;
  std::condition_variable done_changed_;
  bool done_ = false;
  std::optional<Clock::time_point> started_, finished_;  // set by the communication thread
  std::exception_ptr failure_;
};

struct MpiCommunicator::Queue {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::pair<std::function<void()>, std::shared_ptr<Work>>> tasks;
  bool closing = false;
  bool busy = false;

  void run() {
    for (;;) {
      std::pair<std::function<void()>, std::shared_ptr<Work>> item;
      {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return closing || !tasks.empty(); });
        if (tasks.empty()) return;  // closing, and everything issued has run
        item = std::move(tasks.front());
        tasks.pop_front();
        busy = true;
      }
      item.second->start();
      try {
        item.first();
        item.second->finish(nullptr);
      } catch (...) {
        item.second->finish(std::current_exception());
      }
      std::lock_guard<std::mutex> lock(mutex);
      busy = false;
    }
  }

  // Stops taking work; true when nothing is queued or running.
  bool close() {
    std::lock_guard<std::mutex> lock(mutex);
    closing = true;
    changed.notify_all();
    return tasks.empty() && !busy;
  }
};

MpiCommunicator::MpiCommunicator(ProcessPlace place, MPI_Comm comm, MpiCommunicatorOptions options)
    : Communicator(place, options.timeouts),
      comm_(comm),
      options_(options),
      queue_(std::make_shared<Queue>()) {
  NXT_CHECK(options_.max_elements_per_call >= 1 && options_.max_elements_per_call <= INT_MAX,
            "max_elements_per_call must be in [1, INT_MAX]");
  int level = MPI_THREAD_SINGLE;
  NXT_MPI_CHECK(MPI_Query_thread(&level));
  NXT_CHECK(level >= MPI_THREAD_MULTIPLE,
            "the MPI communicator needs MPI_THREAD_MULTIPLE (its own thread calls MPI while "
            "others may call MPI_Abort: Note [MPI thread level]); MPI was initialised with level ",
            level);
  sixteen_bit_ops();
  thread_ = std::thread([queue = queue_] { queue->run(); });
  if (place.world_size > 1) start_up();
  start_watchdog({});
}

// Start-up is collective (a barrier, the node check, on one node the shared window), and MPI's
// calls for the last two block: a rank that never arrives would hold its peers here for ever.
// So it runs as the thread's first task, under the deadline of every collective (Note
// [Watchdog]), after a polled barrier that lets every rank see its peers arrive first. On a
// timeout the thread is abandoned in its MPI call while the error ends the job.
void MpiCommunicator::start_up() {
  auto shared_memory = std::make_shared<std::shared_ptr<SharedMemoryAllReduce>>();
  try {
    submit("start-up of the MPI communicator (waiting for every rank to join)", "start-up", 0, -1,
           [shared_memory, comm = comm_, options = options_] {
             std::vector<MPI_Request> request(1);
             NXT_MPI_CHECK(MPI_Ibarrier(comm, request.data()));
             wait_for(request, options.poll_interval);
             if (options.shm_segment_bytes > 0 && all_ranks_on_this_node(comm))
               *shared_memory = std::make_shared<SharedMemoryAllReduce>(
                   comm, options.shm_segment_bytes, options.poll_interval);
           })
        ->wait();
  } catch (...) {
    queue_->close();
    thread_.detach();  // possibly still inside MPI: never joined (see ~MpiCommunicator)
    throw;
  }
  shared_memory_ = *shared_memory;
}

// The watchdog (no hooks: it touches nothing of ours) stays up while the thread is joined, so a
// collective stuck at shutdown still ends the job.
MpiCommunicator::~MpiCommunicator() {
  const bool idle = queue_->close();
  // While an exception unwinds, no collective may run here (MPI_Win_free, or waiting for a
  // collective that peers will never join): the handler is about to abort the job.
  const bool unwinding = std::uncaught_exceptions() > 0;
  if (unwinding && shared_memory_) shared_memory_->abandon();
  if (unwinding && !idle) {
    thread_.detach();
    return;
  }
  thread_.join();
}

std::shared_ptr<MpiCommunicator::Work> MpiCommunicator::submit(std::string what, std::string kind,
                                                               int64_t bytes, int64_t bucket,
                                                               std::function<void()> task) {
  const Deadline deadline = deadline_now();
  auto work = std::make_shared<Work>(std::move(what), rank(), deadline.limit, deadline.key,
                                     flight(), record(std::move(kind), bytes, bucket));
  {
    std::lock_guard<std::mutex> lock(queue_->mutex);
    NXT_CHECK(!queue_->closing, "communicator is shutting down");
    queue_->tasks.emplace_back(std::move(task), work);
  }
  queue_->changed.notify_all();
  return work;
}

// The tasks capture what they need by value: never `this` (see ~MpiCommunicator).
std::shared_ptr<CommWork> MpiCommunicator::issue_all_reduce(torch::Tensor tensor, ReduceOp op,
                                                            int64_t bucket) {
  check_communicable(tensor, "all_reduce");
  NXT_CHECK(op != ReduceOp::kAverage || tensor.is_floating_point(),
            "average all-reduce needs a floating-point tensor, got ",
            c10::toString(tensor.scalar_type()));
  const MpiTypeAndOp mpi = mpi_type_and_op(tensor.scalar_type(), op);
  count_all_reduce();
  const auto element = shm_element(tensor.scalar_type());
  std::shared_ptr<SharedMemoryAllReduce> shared_memory;
  if (element && tensor.numel() * tensor.element_size() >= options_.shm_min_bytes)
    shared_memory = shared_memory_;
  const int64_t bytes = tensor.numel() * tensor.element_size();
  return submit(
      collective_text("all-reduce", tensor), "all-reduce", bytes, bucket,
      [tensor, op, mpi, element, shared_memory, comm = comm_, options = options_,
       world = world_size()] {
        if (shared_memory) {
          shared_memory->all_reduce(tensor.data_ptr(), tensor.numel(), *element, shm_combine(op));
        } else {
          run_chunked(tensor, options, [&](char* data, int count, MPI_Request* request) {
            NXT_MPI_CHECK(
                MPI_Iallreduce(MPI_IN_PLACE, data, count, mpi.type, mpi.op, comm, request));
          });
        }
        if (op == ReduceOp::kAverage) tensor.div_(world);
      });
}

void MpiCommunicator::broadcast(torch::Tensor tensor, int root) {
  check_communicable(tensor, "broadcast");
  NXT_CHECK(root >= 0 && root < world_size(), "broadcast root ", root, " is not a rank");
  const MpiTypeAndOp mpi = mpi_type_and_op(tensor.scalar_type(), ReduceOp::kSum);
  submit(collective_text("broadcast", tensor), "broadcast", tensor.numel() * tensor.element_size(),
         -1,
         [tensor, root, mpi, comm = comm_, options = options_] {
           run_chunked(tensor, options, [&](char* data, int count, MPI_Request* request) {
             NXT_MPI_CHECK(MPI_Ibcast(data, count, mpi.type, root, comm, request));
           });
         })
      ->wait();
}

void MpiCommunicator::barrier() {
  submit("barrier", "barrier", 0, -1, [comm = comm_, poll = options_.poll_interval] {
    std::vector<MPI_Request> request(1);
    NXT_MPI_CHECK(MPI_Ibarrier(comm, request.data()));
    wait_for(request, poll);
  })->wait();
}

template <class T>
std::vector<T> MpiCommunicator::reduce_host_values(const std::vector<T>& values, MPI_Datatype type,
                                                   ReduceOp op) {
  auto result = std::make_shared<std::vector<T>>(values);
  submit(
      "all-reduce of " + std::to_string(values.size()) + " host value(s)", "host all-reduce",
      static_cast<int64_t>(values.size() * sizeof(T)), -1,
      [result, type, op, comm = comm_, poll = options_.poll_interval] {
        std::vector<MPI_Request> request(1);
        NXT_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, result->data(), static_cast<int>(result->size()),
                                     type, builtin_op(op), comm, request.data()));
        wait_for(request, poll);
      })
      ->wait();
  if (op == ReduceOp::kAverage)
    for (T& v : *result) v /= world_size();
  return *result;
}

std::vector<double> MpiCommunicator::all_reduce_scalars(const std::vector<double>& values,
                                                        ReduceOp op) {
  return reduce_host_values(values, MPI_DOUBLE, op);
}

std::vector<int64_t> MpiCommunicator::all_reduce_integers(const std::vector<int64_t>& values,
                                                          ReduceOp op) {
  return reduce_host_values(values, MPI_INT64_T, op);
}

}  // namespace nxt
