// Implements the preflight's all-reduce sweep, intra-node all-reduce and inter-node links
// (preflight/bandwidth.h).
#include "preflight/bandwidth.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <functional>
#include <string>

#include "comm/mpi_communicator.h"
#include "comm/watchdog.h"
#include "common/check.h"
#if defined(NXT_HAVE_NCCL) && defined(NXT_TORCH_HAS_CUDA)
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAStream.h>

#include "comm/cuda_query.h"
#include "comm/nccl_comm.h"
#endif

namespace nxt {
namespace {

constexpr int64_t kMaxIterations = 1000;  // per size: enough for a stable mean of tiny sizes
constexpr std::chrono::microseconds kPoll{20};

// Note [Bounded node ring]
// On GPUs the intra-node all-reduce runs over a second NCCL communicator of its own, outside the
// Communicator class: no watchdog or flight record watches it, so its host waits are its only
// bound (on CPUs it is an MpiCommunicator, watched like the job's). A wait bounds only a host
// that reaches it, and a host that has queued hundreds of NCCL kernels behind a stuck GPU fills
// CUDA's launch queue (about a thousand entries) and blocks inside a launch, before any deadline
// check. So the ring keeps at most kRingInFlight all-reduces in flight: before issuing another
// it waits for the oldest, polling its event under the preflight's limit, and a stuck peer or
// GPU ends the wait with an Error naming this rank (its rank in the job), which all-reduce and
// the limit. A 64 MB all-reduce takes at least ~0.2 ms even over NVLink, so 4 queued keep the
// link busy while the host polls. The sweep runs through the job's Communicator, whose watchdog
// bounds it even while the host is blocked; its window, kSweepInFlight, only keeps the launch
// queue short, and is wide because its smallest all-reduces (1 KB, ~10 us) would leave the
// device idle between a few. Only a GPU shows the launch queue; only 2 GPUs on a node run this
// ring (NCCL refuses two ranks on one GPU).
constexpr int64_t kRingInFlight = 4;
constexpr int64_t kSweepInFlight = 64;

// One all-reduce path, as the timing loop sees it.
struct AllReduceRunner {
  int ranks = 1;
  int64_t max_in_flight = 1;  // all-reduces issued and not yet waited for, at most
  // Issues all-reduce `index` of the `count` of one run; returns its host wait, which throws
  // when the all-reduce does not finish within the path's limit.
  std::function<std::function<void()>(int64_t index, int64_t count)> issue;
  // Collective: `op` (kMin, kMax) of every rank's `value`.
  std::function<double(double value, ReduceOp op)> agree;
};

// `count` all-reduces back to back, at most runner.max_in_flight at a time, all finished on
// return.
void run_all_reduces(const AllReduceRunner& runner, int64_t count) {
  std::deque<std::function<void()>> in_flight;
  for (int64_t i = 0; i < count; ++i) {
    if (static_cast<int64_t>(in_flight.size()) >= runner.max_in_flight) {
      in_flight.front()();
      in_flight.pop_front();
    }
    in_flight.push_back(runner.issue(i, count));
  }
  for (const auto& wait : in_flight) wait();
}

// nccl-tests' method: a warm-up all-reduce (it also brings the ranks together), one timed to
// size the loop, then `iterations` back to back, agreed by every rank (the fewest any asks for:
// Note [Collective order]), timed on the host; the figure is the slowest rank's mean. A slowed
// rank (test hook) sleeps after each of its all-reduces instead, which its peers wait for.
AllReduceFigure time_all_reduce(const AllReduceRunner& runner, int64_t bytes, double budget_s,
                                const SlowDown& slow) {
  run_all_reduces(runner, 1);
  auto start = PreflightClock::now();
  run_all_reduces(runner, 1);
  const double one = std::max(seconds_since(start), 1e-6);
  const double wanted =
      std::clamp(std::floor(budget_s / one), 1.0, static_cast<double>(kMaxIterations));
  AllReduceFigure figure;
  figure.bytes = bytes;
  figure.ranks = runner.ranks;
  figure.iterations = static_cast<int64_t>(runner.agree(wanted, ReduceOp::kMin));
  start = PreflightClock::now();
  if (slow.active()) {
    for (int64_t i = 0; i < figure.iterations; ++i) {
      const auto issued = PreflightClock::now();
      run_all_reduces(runner, 1);
      slow.after_step(seconds_since(issued));
    }
  } else {
    run_all_reduces(runner, figure.iterations);
  }
  figure.seconds =
      runner.agree(seconds_since(start) / static_cast<double>(figure.iterations), ReduceOp::kMax);
  return figure;
}

// All-reduces of `buffer` through a Communicator (the job's, or an MPI one over a node), whose
// CommWork waits carry its deadline.
AllReduceRunner communicator_runner(Communicator& comm, const torch::Tensor& buffer,
                                    int64_t max_in_flight) {
  AllReduceRunner runner;
  runner.ranks = comm.world_size();
  runner.max_in_flight = max_in_flight;
  runner.issue = [&comm, buffer](int64_t, int64_t) {
    std::shared_ptr<CommWork> work = comm.all_reduce_async(buffer, ReduceOp::kSum);
    return std::function<void()>([work] { work->wait_on_host(); });
  };
  runner.agree = [&comm](double value, ReduceOp op) {
    return comm.all_reduce_scalars({value}, op)[0];
  };
  return runner;
}

torch::Tensor float_buffer(int64_t bytes, torch::Device device) {
  return torch::zeros({bytes / static_cast<int64_t>(sizeof(float))},
                      torch::TensorOptions().dtype(torch::kFloat).device(device));
}

// A polled MPI wait under the preflight's limit (an Error naming `what` when it passes).
void wait_all(std::vector<MPI_Request>& requests, int world_rank, const std::string& what,
              PreflightLimit limit) {
  wait_for_requests(requests, kPoll, limit.seconds, world_rank, what, limit.key);
}

}  // namespace

double all_reduce_bus_factor(int ranks) {
  return ranks > 1 ? 2.0 * (ranks - 1) / ranks : 0.0;
}

std::vector<int64_t> all_reduce_sweep_sizes() {
  std::vector<int64_t> sizes;
  for (int64_t bytes = 1 << 10; bytes <= (int64_t{256} << 20); bytes *= 4) sizes.push_back(bytes);
  return sizes;
}

std::vector<AllReduceFigure> all_reduce_sweep(Communicator& comm, torch::Device device,
                                              double budget_s) {
  if (comm.world_size() < 2) return {};
  const std::vector<int64_t> sizes = all_reduce_sweep_sizes();
  // One buffer of the largest size; each size all-reduces its prefix.
  const torch::Tensor buffer = float_buffer(sizes.back(), device);
  std::vector<AllReduceFigure> figures;
  for (const int64_t bytes : sizes) {
    const torch::Tensor part = buffer.narrow(0, 0, bytes / static_cast<int64_t>(sizeof(float)));
    figures.push_back(time_all_reduce(communicator_runner(comm, part, kSweepInFlight), bytes,
                                      budget_s / static_cast<double>(sizes.size()), SlowDown()));
  }
  return figures;
}

struct NodeAllReduce::Path {
  std::unique_ptr<Communicator> mpi;  // CPU: an MPI communicator over the node
#if defined(NXT_HAVE_NCCL) && defined(NXT_TORCH_HAS_CUDA)
  std::unique_ptr<NcclComm> nccl;  // GPU: a second NCCL communicator over the node
#endif
  torch::Tensor buffer;
  AllReduceRunner runner;
};

NodeAllReduce::NodeAllReduce(MPI_Comm node_comm, const ProcessPlace& place, torch::Device device,
                             PreflightLimit limit) {
  if (place.local_size < 2) return;
  path_ = std::make_unique<Path>();
  Path& path = *path_;
  path.buffer = float_buffer(kNodeRingBytes, device);
  if (!device.is_cuda()) {
    MpiCommunicatorOptions options;
    options.timeouts = {limit.seconds, limit.seconds};
    // Its rank is only what its messages and flight record name (its MPI calls go through
    // `node_comm`, in which this rank is its local rank): the rank in the job, which the user
    // can find; its world is the node's ranks, which averages and roots count.
    const ProcessPlace on_node{place.rank, place.local_size, place.local_rank, place.local_size};
    path.mpi = std::make_unique<MpiCommunicator>(on_node, node_comm, options);
    path.runner = communicator_runner(*path.mpi, path.buffer, kRingInFlight);
    return;
  }
#if defined(NXT_HAVE_NCCL) && defined(NXT_TORCH_HAS_CUDA)
  // Bootstrapped over `node_comm`; the host agrees on iterations and times by polled MPI
  // all-reduces over the same ranks.
  path.nccl =
      std::make_unique<NcclComm>(place.local_rank, place.local_size, device.index(), node_comm,
                                 limit.seconds, NcclComm::Names{place.rank, limit.key});
  const std::string what = "the preflight's intra-node all-reduce (NCCL, " +
                           std::to_string(kNodeRingBytes >> 20) + " MB)";
  path.runner.ranks = place.local_size;
  path.runner.max_in_flight = kRingInFlight;
  // Note [Bounded node ring]: each all-reduce is followed by its own event, polled under the
  // limit, and NCCL's asynchronous error is checked while polling. Its Error leaves the
  // communicator to ~NcclComm, which aborts it while the Error unwinds.
  path.runner.issue = [&path, device, what, limit, rank = place.rank](int64_t index,
                                                                      int64_t count) {
    const c10::cuda::CUDAStream stream = c10::cuda::getCurrentCUDAStream(device.index());
    path.nccl->all_reduce(path.buffer.data_ptr(), static_cast<size_t>(path.buffer.numel()),
                          ncclFloat32, ncclSum, stream.stream());
    auto done = std::make_shared<at::cuda::CUDAEvent>();
    done->record(stream);
    return std::function<void()>(
        [&path, done, limit, rank,
         what = what + ", " + std::to_string(index + 1) + " of " + std::to_string(count)] {
          wait_for_cuda_event(done->event(), limit.seconds, rank, what, limit.key,
                              [&path] { path.nccl->check_async_error(); });
        });
  };
  path.runner.agree = [node_comm, what, limit, rank = place.rank](double value, ReduceOp op) {
    std::vector<MPI_Request> request(1);
    NXT_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, &value, 1, MPI_DOUBLE,
                                 op == ReduceOp::kMin ? MPI_MIN : MPI_MAX, node_comm,
                                 request.data()));
    wait_all(request, rank, what + ": agreeing on its timing", limit);
    return value;
  };
#else
  throw Error("preflight: the intra-node all-reduce on " + device.str() +
              " needs NCCL and a CUDA LibTorch, which this build lacks");
#endif
}

NodeAllReduce::~NodeAllReduce() = default;

std::optional<AllReduceFigure> NodeAllReduce::measure(double budget_s, const SlowDown& slow) {
  if (!path_) return std::nullopt;
  return time_all_reduce(path_->runner, kNodeRingBytes, budget_s, slow);
}

std::optional<double> link_to_next_node(MPI_Comm leaders, int world_rank, double budget_s,
                                        const SlowDown& slow, PreflightLimit limit) {
  if (leaders == MPI_COMM_NULL) return std::nullopt;
  int me = 0, nodes = 1;
  NXT_MPI_CHECK(MPI_Comm_rank(leaders, &me));
  NXT_MPI_CHECK(MPI_Comm_size(leaders, &nodes));
  if (nodes < 2) return std::nullopt;
  // Link k is k -> k+1. Node k sends on link k and receives on link k-1, so those two must be
  // in different phases: by parity; with an odd count the last link, n-1 -> 0, has the parity
  // of link 0, which node 0 sends on, so it gets a third phase of its own.
  const int phases = nodes % 2 == 0 ? 2 : 3;
  const auto phase_of = [nodes](int link) {
    return nodes % 2 == 1 && link == nodes - 1 ? 2 : link % 2;
  };
  const int next = (me + 1) % nodes, previous = (me + nodes - 1) % nodes;
  constexpr int kReadyTag = 1, kDataTag = 2, kAckTag = 3;
  std::vector<uint8_t> buffer(static_cast<size_t>(kLinkBytes), 0);
  const int count = static_cast<int>(kLinkBytes);
  int64_t token = 0;
  std::optional<double> rate;
  for (int phase = 0; phase < phases; ++phase) {
    if (phase_of(me) == phase) {
      const std::string what = "the preflight's link from node " + std::to_string(me) +
                               " to node " + std::to_string(next) + " (sender)";
      // The receiver says it is ready first, so that the warm-up message times the link and not
      // the receiver's previous phase.
      std::vector<MPI_Request> ready(1);
      NXT_MPI_CHECK(MPI_Irecv(&token, 1, MPI_INT64_T, next, kReadyTag, leaders, ready.data()));
      wait_all(ready, world_rank, what + ": waiting for the receiver", limit);
      const MeasuredRates measured =
          measure_rates(budget_s / phases, CpuWait::kThread, slow, [&](bool last) {
            const int64_t more = last ? 0 : 1;
            std::memcpy(buffer.data(), &more, sizeof more);
            std::vector<MPI_Request> requests(2);
            NXT_MPI_CHECK(
                MPI_Isend(buffer.data(), count, MPI_BYTE, next, kDataTag, leaders, &requests[0]));
            NXT_MPI_CHECK(MPI_Irecv(&token, 1, MPI_INT64_T, next, kAckTag, leaders, &requests[1]));
            wait_all(requests, world_rank, what, limit);
            return StepWork{1, static_cast<double>(kLinkBytes)};
          });
      rate = measured.bytes_per_s;
    } else if (phase_of(previous) == phase) {
      const std::string what = "the preflight's link from node " + std::to_string(previous) +
                               " to node " + std::to_string(me) + " (receiver)";
      std::vector<MPI_Request> ready(1);
      NXT_MPI_CHECK(MPI_Isend(&token, 1, MPI_INT64_T, previous, kReadyTag, leaders, ready.data()));
      wait_all(ready, world_rank, what, limit);
      for (int64_t more = 1; more != 0;) {
        std::vector<MPI_Request> data(1);
        NXT_MPI_CHECK(
            MPI_Irecv(buffer.data(), count, MPI_BYTE, previous, kDataTag, leaders, data.data()));
        wait_all(data, world_rank, what, limit);
        std::memcpy(&more, buffer.data(), sizeof more);
        std::vector<MPI_Request> ack(1);
        NXT_MPI_CHECK(MPI_Isend(&token, 1, MPI_INT64_T, previous, kAckTag, leaders, ack.data()));
        wait_all(ack, world_rank, what, limit);
      }
    }
  }
  return rate;
}

}  // namespace nxt
