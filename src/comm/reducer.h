// The gradient reducer (our own take on PyTorch DDP's Reducer). Parameters are grouped into
// buckets of about `bucket_mb`, in reverse registration order: the order backward produces
// their gradients. Each parameter's .grad is a view into its bucket's flat buffer, so autograd
// accumulates straight into the buffer and nothing is copied. A post-hook on each parameter's
// gradient accumulator marks it ready; when a bucket is complete its average all-reduce starts
// at once, overlapping the rest of backward. Buckets launch strictly in index order: one that
// completes early waits for those before it, whatever order the gradients arrive in on this rank
// (Note [Collective order] in comm/communicator.h). finish_backward() waits for all of them,
// after which every rank holds the same averaged gradients.
//
// Gradient accumulation: with set_sync(false) backward only accumulates; the next synced
// backward communicates the sum. Parameters that get no gradient in a synced step are an
// error naming them, unless allow_unused_parameters (then their zero gradients are reduced).
#pragma once
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "comm/replicas.h"

namespace nxt {

struct ReducerOptions {
  double bucket_mb = 25;  // 0: one all-reduce per parameter
  bool allow_unused_parameters = false;
};

// Per-bucket timing of the last synced step, for overlap measurements. `started` and
// `finished` are the backend's (on a GPU: the device's, known once the collective has run:
// call after Reducer::wait_on_host()); the epoch of the clock while unknown.
struct BucketTiming {
  CommWork::Clock::time_point launched;
  std::optional<CommWork::Clock::time_point> started, finished;  // nullopt: not known
  std::shared_ptr<CommWork> work;
};

class Reducer {
 public:
  // `parameters`: the model's trainable parameters in registration order (all on one device).
  Reducer(std::vector<NamedTensor> parameters, Communicator& comm, ReducerOptions options = {});
  ~Reducer();
  Reducer(const Reducer&) = delete;
  Reducer& operator=(const Reducer&) = delete;

  // Whether the next backward communicates (false on all but the last micro-batch).
  void set_sync(bool sync);
  // Zeros all gradients (the bucket buffers). Use this, not the optimizer's zero_grad, which
  // may drop the gradient tensors and with them the views into the buckets.
  void zero_grad();
  // After a synced backward: launches what is left (unused parameters allowed), waits for all
  // buckets. A no-op after an unsynced backward.
  void finish_backward();
  // Blocks the host until the last synced step's gradients have arrived (on a GPU too), within
  // the communicator's timeout (Note [Watchdog] in comm/communicator.h). The trainer calls it
  // before reading metrics off the device, so that read cannot hang on a stuck collective.
  void wait_on_host();

  int64_t bucket_count() const;
  // Parameter names of each bucket, in launch order.
  std::vector<std::vector<std::string>> bucket_layout() const;
  std::vector<BucketTiming> last_timings() const;

 private:
  struct State;
  std::shared_ptr<State> state_;  // shared with the autograd hooks, which hold it weakly
};

}  // namespace nxt
