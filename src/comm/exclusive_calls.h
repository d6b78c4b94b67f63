// Calls into one communicator, one at a time, and an abort that never overlaps one
// (Note [One call at a time]). Without CUDA or NCCL, so that a CPU test can show it.
//
// Note [One call at a time]
// NCCL forbids concurrent calls on one communicator, and ncclCommAbort is such a call: it frees
// what a concurrent ncclAllReduce is using. nxt calls NCCL from three threads: the autograd
// thread (the reducer's bucket all-reduces, from gradient hooks), the main thread (waits,
// broadcasts, the error polls) and the watchdog (the error poll, the abort). So every call
// holds one mutex. An enqueue may block inside a kernel launch behind a full launch queue (a
// stuck peer): the watchdog then must not wait for it, so its error poll only tries the mutex
// (no news is not an error: the collective's deadline still fires), and its abort waits a
// bounded time and is skipped when an enqueue is still inside; the job ends by MPI_Abort either
// way, which is what the abort is for. The alternative, PyTorch's non-blocking communicator
// alone (ncclConfig_t.blocking = 0), makes NCCL's own waits return ncclInProgress but leaves
// the concurrent calls; nxt uses it too (comm/nccl_comm.h), for bounded start-up and settles.
#pragma once
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace nxt {

class ExclusiveCalls {
 public:
  // Runs `call` once no other call is inside; returns what it returns.
  template <class Call>
  auto run(Call&& call) {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::forward<Call>(call)();
  }
  // Runs `call` only if no other call is inside right now; nullopt when one is.
  template <class Call>
  auto try_run(Call&& call) -> std::optional<decltype(call())> {
    std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
    if (!lock.owns_lock()) return std::nullopt;
    return std::forward<Call>(call)();
  }
  // Runs `call` (an abort) once no other call is inside, waiting at most `patience`; returns
  // false, without running it, when a call stayed inside longer.
  // Polls try_lock rather than a timed lock: libstdc++'s try_lock_for is
  // pthread_mutex_clocklock, which ThreadSanitizer does not intercept, so it would see the unlock
  // of a lock it never saw taken; an abort can afford a millisecond.
  template <class Call>
  bool run_within(std::chrono::milliseconds patience, Call&& call) {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
    while (!lock.owns_lock()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      lock.try_lock();
    }
    std::forward<Call>(call)();
    return true;
  }

 private:
  std::mutex mutex_;
};

}  // namespace nxt
