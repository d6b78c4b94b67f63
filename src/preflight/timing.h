// The time-bounded measurement loop of the preflight (nxt_ddp --preflight), its statistics, the
// limit on its waits, and the test hook that makes one rank measure slow on purpose.
//
// Note [Time-bounded measurements]
// Every preflight measurement is bounded by time, not by a count of iterations: a step (one
// forward + backward, a few reads, one message) is repeated until the measurement's budget
// (--preflight-seconds) has passed, after one untimed warm-up step (allocations, cuDNN's
// autotuner, a cold cache). The figure is the median over the timed steps of work / step time,
// so that a burst of noise on a shared machine (another process taking the core for a moment)
// does not decide it, while a rank that is slow all the time still measures slow. A step longer
// than the budget still runs once: the budget is what the loop aims for, not a kill switch.
//
// Work done by the host's CPUs (a CPU device's compute, reads, messages) is also timed without
// the time its threads stood in the kernel's run queue while another process had their CPU
// (run_delay, the second field of /proc/<pid>/task/<tid>/schedstat): two ranks time-sharing one
// core, or a compiler beside a rank, halve a wall-clock figure on one node but not on the next,
// which is the node's load, not its CPU, disk or link. Sleeping (in I/O, in the test hook) is not
// run-queue time, so a slow disk or a slowed rank still measures slow. GPU compute keeps the wall
// clock: its steps end when the device is done. Where the kernel keeps no schedstat, nothing is
// subtracted.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "common/median.h"

namespace nxt {

using PreflightClock = std::chrono::steady_clock;

// The deadline of the preflight's collectives and waits: dist.timeout_s, but at most this, so
// that a hung rank ends a one-minute check within a couple of minutes (Note [Watchdog] in
// comm/communicator.h).
inline constexpr std::chrono::seconds kPreflightTimeout{120};

// The limit on every wait of the preflight, and the name its timeout messages give it.
struct PreflightLimit {
  std::chrono::seconds seconds;
  const char* key;  // "dist.timeout_s", or the name of the cap where the cap applies
};

// dist.timeout_s = `timeout_s` (> 0), capped at kPreflightTimeout; the key names whichever
// applies, so that a message never blames dist.timeout_s for the cap.
PreflightLimit preflight_limit(int64_t timeout_s);

// Seconds from `start` to now.
double seconds_since(PreflightClock::time_point start);

// Test hook NXT_SLOW_PREFLIGHT_RANK=R (common/fault_injector.h): rank R's compute steps, reads
// and sends (intra-node all-reduces, inter-node messages) take kFactor times as long, by
// sleeping (kFactor - 1) x each step's own time after it, so that rank measures slow on any
// machine.
class SlowDown {
 public:
  static constexpr double kFactor = 4;
  SlowDown() = default;
  // `active`: this rank is the one the hook names (FaultInjector::slows_preflight()).
  explicit SlowDown(bool active) : active_(active) {}
  bool active() const { return active_; }
  // Sleeps (kFactor - 1) x `step_seconds` when active; returns at once otherwise.
  void after_step(double step_seconds) const;

 private:
  bool active_ = false;
};

// Whose run-queue waits a measurement does not count (Note [Time-bounded measurements]).
enum class CpuWait {
  kCounted,  // none: the wall clock (GPU compute)
  kThread,   // the calling thread's (reads, messages)
  kProcess,  // the largest of the process's threads' (CPU compute on torch's thread pool)
};

// A thread's (or every thread's of the process) run-queue time so far, to take differences of.
class CpuWaitProbe {
 public:
  explicit CpuWaitProbe(CpuWait mode) : mode_(mode) {}
  void start();             // takes the snapshot that waited_s() counts from
  double waited_s() const;  // since start(): kThread this thread's, kProcess the largest thread's

 private:
  CpuWait mode_;
  std::vector<std::pair<long, long long>> start_;  // (tid, run_delay ns); one entry for kThread
};

// What one step did.
struct StepWork {
  double items = 0;  // images (computed or read), messages
  double bytes = 0;  // bytes read or sent; 0 when not counted
};

// Rates over the timed steps of one measurement (Note [Time-bounded measurements]).
struct MeasuredRates {
  double items_per_s = 0;  // median over steps
  double bytes_per_s = 0;  // median over steps
  int64_t steps = 0;       // timed steps
  double seconds = 0;      // wall time of the timed steps
};

// Runs step(false) once untimed (the warm-up), then timed steps until `budget_s` of wall time
// has passed, at least one. A step's time is its wall time less the run-queue waits that `wait`
// names; `slow` stretches each timed step (its sleep counts in the
// step's time). The step is told `last` = true on the final timed step (a sender tells its
// receiver to stop).
MeasuredRates measure_rates(double budget_s, CpuWait wait, const SlowDown& slow,
                            const std::function<StepWork(bool last)>& step);

}  // namespace nxt
