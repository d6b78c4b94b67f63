// The deadline on every host-side wait for a collective (Note [Watchdog] in
// comm/communicator.h), without LibTorch, so that the raw NCCL layer shares it.
#pragma once
#include <mpi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "comm/flight_recorder.h"

namespace nxt {

inline constexpr std::chrono::seconds kDefaultTimeout{600};  // dist.timeout_s
inline constexpr std::chrono::seconds kDefaultRank0PhaseTimeout{3600};  // dist.rank0_phase_timeout_s
// For waits whose deadline is held elsewhere (the MPI communicator's thread: the caller's
// CommWork::wait() times out instead).
inline constexpr std::chrono::seconds kNoTimeout = std::chrono::seconds::max();

// "rank R: WHAT has not finished after S s (KEY = T): a peer rank is not answering ...".
std::string collective_timeout_text(int rank, const std::string& what, double waited_s,
                                    std::chrono::seconds limit,
                                    const char* limit_key = "dist.timeout_s");
// Throws collective_timeout_text() as an Error.
[[noreturn]] void throw_collective_timeout(int rank, const std::string& what, double waited_s,
                                           std::chrono::seconds limit,
                                           const char* limit_key = "dist.timeout_s");

// Polls MPI requests until all have completed, sleeping `poll` between tests (a blocking MPI
// wait spins a core); throws throw_collective_timeout's error after `timeout` (never with
// kNoTimeout).
void wait_for_requests(std::vector<MPI_Request>& requests, std::chrono::microseconds poll,
                       std::chrono::seconds timeout, int rank, const std::string& what,
                       const char* timeout_key = "dist.timeout_s");

// The watchdog thread of one communicator (Note [Watchdog] in comm/communicator.h). Every
// `tick` it probes the flight recorder's unfinished collectives and the backend's
// asynchronous error; when the oldest unfinished collective is older than its deadline, or the
// backend reports an error, it ends the job from this thread, whatever the main thread is
// blocked in (a full CUDA launch queue, a host wait): it prints the collective, its sequence
// number and how long it waited, then this rank's flight record (stderr, and
// flight_rank<N>.json in the record folder where this rank sees one), aborts the backend
// (ncclCommAbort: never blocks) and calls MPI_Abort.
class CollectiveWatchdog {
 public:
  struct Hooks {
    // A non-empty text when the backend has failed asynchronously (NCCL); may be null.
    std::function<std::string()> backend_error;
    // Makes the backend give up on its collectives; may be null. Should not block, but the
    // job is aborted kFireGrace after firing even if it does.
    std::function<void()> abort_backend;
    // Runs first on the watchdog's thread (NCCL: makes the rank's GPU current, so that event
    // queries create no context on device 0); may be null.
    std::function<void()> on_thread_start;
  };
  // How long firing may take (printing, flight_rank<N>.json, the backend's abort) before the
  // job is aborted regardless.
  static constexpr std::chrono::seconds kFireGrace{15};
  CollectiveWatchdog(std::shared_ptr<FlightRecorder> recorder, int rank, Hooks hooks,
                     std::chrono::milliseconds tick = std::chrono::milliseconds(250));
  // Stops the thread (it never fires after this returns).
  ~CollectiveWatchdog();
  CollectiveWatchdog(const CollectiveWatchdog&) = delete;
  CollectiveWatchdog& operator=(const CollectiveWatchdog&) = delete;

  // Where flight_rank<N>.json goes when the watchdog fires (the run folder); "": stderr only.
  void set_record_dir(const std::string& dir);

 private:
  void run();
  [[noreturn]] void fire(const std::string& message);

  std::shared_ptr<FlightRecorder> recorder_;
  const int rank_;
  Hooks hooks_;
  const std::chrono::milliseconds tick_;
  std::mutex mutex_;
  std::condition_variable stop_requested_;
  bool stopping_ = false;
  std::string record_dir_;
  std::thread thread_;
};

}  // namespace nxt
