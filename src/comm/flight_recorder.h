// The flight recorder: each rank's last collectives (sequence number, kind, bucket, bytes, and
// when each was enqueued, started and finished), kept so that when a job hangs the user sees
// which rank stopped at which collective (Note [Watchdog] in comm/communicator.h). Without
// LibTorch, like comm/watchdog.h. Thread-safe: the main thread enqueues, the MPI
// communicator's thread marks starts and ends, the watchdog thread reads and probes.
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace nxt {

struct FlightEntry {
  using Clock = std::chrono::steady_clock;
  int64_t sequence = 0;  // 1, 2, ... per communicator, in issue order (the same on every rank)
  std::string kind;      // "all-reduce", "broadcast", "barrier", "host all-reduce", ...
  int64_t bucket = -1;   // the reducer's bucket index, -1 for other collectives
  int64_t bytes = 0;
  std::chrono::seconds deadline{0};             // the timeout that applies (Note [Watchdog]) ...
  const char* deadline_key = "dist.timeout_s";  // ... and the config key that set it
  Clock::time_point enqueued{}, started{}, finished{};  // epoch of Clock: not (yet) known
  bool done() const { return finished != Clock::time_point{}; }
};

// Where a probed collective stands (on a GPU: whether its start and done events have happened).
enum class CollectiveProgress { kQueued, kRunning, kFinished };

class FlightRecorder {
 public:
  using Clock = FlightEntry::Clock;
  // Where the collective stands. Called by the watchdog thread, without the recorder's mutex
  // (it may block behind a wedged GPU), for entries whose start and end nobody marks.
  using ProgressProbe = std::function<CollectiveProgress()>;
  static constexpr size_t kCapacity = 64;

  // Records a collective as issued now; returns its sequence number. With a probe, poll()
  // marks its start and end; without one, the caller calls mark_started()/mark_finished().
  int64_t enqueue(std::string kind, int64_t bytes, int64_t bucket, std::chrono::seconds deadline,
                  const char* deadline_key, ProgressProbe probe = nullptr);
  void mark_started(int64_t sequence, Clock::time_point when = Clock::now());
  void mark_finished(int64_t sequence, Clock::time_point when = Clock::now());
  // Runs the probes of unfinished entries, oldest first, stopping at the first not finished
  // (collectives finish in issue order on one stream), and marks what they report with `now`
  // (started when first seen running or finished). The probes run without the mutex held, so
  // a probe stuck in a CUDA query never blocks enqueue() on the thread issuing collectives;
  // poll() itself may block as long as the probe does (the watchdog's monitor covers that).
  void poll(Clock::time_point now = Clock::now());
  // The oldest collective not finished, if any.
  std::optional<FlightEntry> oldest_unfinished() const;
  std::vector<FlightEntry> snapshot() const;

  // {"rank": R, "collectives": [{"sequence":..,"kind":..,"bucket":..,"bytes":..,
  //  "enqueued_s_ago":..,"started_s_ago":..,"finished_s_ago":..,"state":..}, ...]}: times in
  // seconds before `now` (null when not reached), state "finished", "running" or "queued".
  std::string to_json(int rank, Clock::time_point now = Clock::now()) const;
  // The same as a table, newest last, for stderr.
  std::string to_text(int rank, Clock::time_point now = Clock::now()) const;

 private:
  struct Slot {
    FlightEntry entry;
    ProgressProbe probe;
  };
  Slot* find(int64_t sequence);
  mutable std::mutex mutex_;
  std::deque<Slot> slots_;  // at most kCapacity, oldest first
  int64_t next_sequence_ = 1;
};

}  // namespace nxt
