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
inline constexpr std::chrono::seconds kDefaultRank0PhaseTimeout{
    3600};  // dist.rank0_phase_timeout_s
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
//
// A monitor thread starts with it (Note [Watchdog monitor]): if the watchdog itself stops
// completing its checks (a CUDA query stuck behind a wedged GPU) for `stall_limit`, the
// monitor leaves the flight record and ends the job, so a rank never hangs longer than
// dist.timeout_s plus a bound, whatever blocks.
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
  // `stall_limit`: how long one check of the watchdog may take before its monitor ends the job
  // (the communicator passes dist.timeout_s).
  CollectiveWatchdog(std::shared_ptr<FlightRecorder> recorder, int rank, Hooks hooks,
                     std::chrono::milliseconds tick = std::chrono::milliseconds(250),
                     std::chrono::seconds stall_limit = kDefaultTimeout);
  // Stops both threads (neither fires after this returns). Should the watchdog thread be stuck
  // in a probe, the monitor, stopped last, ends the rank after stall_limit.
  ~CollectiveWatchdog();
  CollectiveWatchdog(const CollectiveWatchdog&) = delete;
  CollectiveWatchdog& operator=(const CollectiveWatchdog&) = delete;

  // Where flight_rank<N>.json goes when the watchdog fires (the run folder); "": stderr only.
  void set_record_dir(const std::string& dir);

  // Prints "[rank R] <why>; flight record of rank R ..." to stderr and writes
  // flight_rank<N>.json in the record folder, once per watchdog: returns false, doing nothing,
  // when it was left before. Takes no lock that a collective's progress probe holds; from any
  // thread.
  bool leave_record(const std::string& why);

 private:
  void run();
  void monitor();
  // Leaves the record, aborts the backend and ends the job; the first caller of either thread
  // does it, a second one waits for the first to end the process.
  [[noreturn]] void fire(const std::string& message);
  // What the watchdog thread is doing, for the monitor's message.
  void beat(const char* doing);

  std::shared_ptr<FlightRecorder> recorder_;
  const int rank_;
  Hooks hooks_;
  const std::chrono::milliseconds tick_;
  const std::chrono::seconds stall_limit_;
  std::mutex mutex_;
  std::condition_variable stop_requested_;
  bool stopping_ = false;          // the watchdog thread's stop
  bool monitor_stopping_ = false;  // the monitor's, once the watchdog thread has ended
  std::string record_dir_;
  std::atomic<FlightEntry::Clock::rep> last_beat_;  // when `doing_` last changed
  std::atomic<const char*> doing_{"starting"};
  std::atomic<bool> firing_{false};
  std::atomic<bool> record_left_{false};
  std::thread thread_;
  std::thread monitor_;
};

// Leaves the flight record of every live watchdog of this process (leave_record(why)): called
// by throw_collective_timeout, so the record is left whichever thread notices a collective
// passing its deadline (Note [Watchdog]).
void leave_flight_records(const std::string& why);

}  // namespace nxt
