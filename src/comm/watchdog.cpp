// Implements the watchdog's error, the polled MPI wait with a deadline, and the watchdog
// thread.
#include "comm/watchdog.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "common/check.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/mpi_env.h"

namespace nxt {

std::string collective_timeout_text(int rank, const std::string& what, double waited_s,
                                    std::chrono::seconds limit, const char* limit_key) {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.1f", waited_s);
  return "rank " + std::to_string(rank) + ": " + what + " has not finished after " + seconds +
         " s (" + limit_key + " = " + std::to_string(limit.count()) +
         "): a peer rank or this rank's GPU is not answering (hung, stopped, or its node is "
         "gone); ending the job";
}

void throw_collective_timeout(int rank, const std::string& what, double waited_s,
                              std::chrono::seconds limit, const char* limit_key) {
  const std::string text = collective_timeout_text(rank, what, waited_s, limit, limit_key);
  leave_flight_records("a host wait timed out (" + what + ")");
  throw Error(text);
}

void wait_for_requests(std::vector<MPI_Request>& requests, std::chrono::microseconds poll,
                       std::chrono::seconds timeout, int rank, const std::string& what,
                       const char* timeout_key) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    int done = 0;
    NXT_MPI_CHECK(MPI_Testall(static_cast<int>(requests.size()), requests.data(), &done,
                              MPI_STATUSES_IGNORE));
    if (done) return;
    if (timeout == kNoTimeout) {
      std::this_thread::sleep_for(poll);
      continue;
    }
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (waited > static_cast<double>(timeout.count()))
      throw_collective_timeout(rank, what, waited, timeout, timeout_key);
    std::this_thread::sleep_for(poll);
  }
}

namespace {

// "all-reduce #57 of 6.2 MB (bucket 2)".
std::string describe(const FlightEntry& entry) {
  char text[160];
  std::snprintf(text, sizeof text, "%s #%lld of %.1f MB", entry.kind.c_str(),
                static_cast<long long>(entry.sequence), static_cast<double>(entry.bytes) / 1e6);
  std::string out = text;
  if (entry.bucket >= 0) out += " (bucket " + std::to_string(entry.bucket) + ")";
  out += entry.started == FlightEntry::Clock::time_point{} ? ", queued behind an earlier one" : "";
  return out;
}

bool is_directory(const std::string& path) {
  struct stat info {};
  return !path.empty() && ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

// The live watchdogs of this process, for leave_flight_records(). Never destroyed: a
// watchdog may outlive static destruction when the process ends abnormally.
std::mutex& live_watchdogs_mutex() {
  static auto* mutex = new std::mutex;
  return *mutex;
}
std::vector<CollectiveWatchdog*>& live_watchdogs() {
  static auto* watchdogs = new std::vector<CollectiveWatchdog*>;
  return *watchdogs;
}

// What the watchdog does between its checks: not a stall, however long a tick is.
constexpr const char* kWaitingForNextCheck = "waiting for its next check";

FlightEntry::Clock::rep ticks_now() {
  return FlightEntry::Clock::now().time_since_epoch().count();
}

}  // namespace

void leave_flight_records(const std::string& why) {
  std::lock_guard<std::mutex> lock(live_watchdogs_mutex());
  for (CollectiveWatchdog* watchdog : live_watchdogs()) watchdog->leave_record(why);
}

CollectiveWatchdog::CollectiveWatchdog(std::shared_ptr<FlightRecorder> recorder, int rank,
                                       Hooks hooks, std::chrono::milliseconds tick,
                                       std::chrono::seconds stall_limit)
    : recorder_(std::move(recorder)),
      rank_(rank),
      hooks_(std::move(hooks)),
      tick_(tick),
      stall_limit_(stall_limit),
      last_beat_(ticks_now()) {
  {
    std::lock_guard<std::mutex> lock(live_watchdogs_mutex());
    live_watchdogs().push_back(this);
  }
  thread_ = std::thread([this] { run(); });
  monitor_ = std::thread([this] { monitor(); });
}

CollectiveWatchdog::~CollectiveWatchdog() {
  {
    std::lock_guard<std::mutex> lock(live_watchdogs_mutex());
    auto& live = live_watchdogs();
    live.erase(std::remove(live.begin(), live.end(), this), live.end());
  }
  // The monitor stops last: should the watchdog be stuck in a probe, it still ends the rank
  // instead of leaving this join to wait for ever.
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stop_requested_.notify_all();
  thread_.join();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    monitor_stopping_ = true;
  }
  stop_requested_.notify_all();
  monitor_.join();
}

void CollectiveWatchdog::set_record_dir(const std::string& dir) {
  std::lock_guard<std::mutex> lock(mutex_);
  record_dir_ = dir;
}

void CollectiveWatchdog::beat(const char* doing) {
  // The time first: the monitor reads doing_ first, so it never pairs a new step with the
  // previous step's time.
  last_beat_ = ticks_now();
  doing_ = doing;
}

void CollectiveWatchdog::run() {
  beat("starting");
  if (hooks_.on_thread_start) hooks_.on_thread_start();
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    beat(kWaitingForNextCheck);
    if (stop_requested_.wait_for(lock, tick_, [&] { return stopping_; })) return;
    lock.unlock();
    const auto now = FlightEntry::Clock::now();
    std::string error;
    try {  // an exception would end this thread with std::terminate and no message
      beat("probing its collectives' progress (CUDA event queries)");
      recorder_->poll(now);
      if (hooks_.backend_error) {
        beat("asking the backend for its asynchronous error");
        error = hooks_.backend_error();
      }
    } catch (const std::exception& e) {
      error = std::string("the watchdog's check failed: ") + e.what();
    }
    if (!error.empty()) fire("rank " + std::to_string(rank_) + ": " + error);
    if (const auto stuck = recorder_->oldest_unfinished()) {
      const double waited = std::chrono::duration<double>(now - stuck->enqueued).count();
      if (waited > static_cast<double>(stuck->deadline.count()))
        fire("watchdog: " + collective_timeout_text(rank_, describe(*stuck), waited,
                                                    stuck->deadline, stuck->deadline_key));
    }
    lock.lock();
  }
}

// Note [Watchdog monitor]
// The watchdog is the one thread that must never block, yet it calls into CUDA (event queries)
// and the backend (ncclCommGetAsyncError), either of which can hang behind a wedged GPU or
// driver. Then nothing would end the rank: its main thread is blocked too, and its peers'
// watchdogs end only their own ranks (a peer on another node cannot kill this process; mpirun
// and srun do only after MPI_Abort). So a second, trivial thread starts with the watchdog, as
// PyTorch's heartbeat monitor does for ProcessGroupNCCL (PR #112518): it touches neither CUDA
// nor the backend, only an atomic time stamp the watchdog renews at every step of its check,
// and when one step has lasted longer than stall_limit (dist.timeout_s) it leaves the flight
// record (the recorder's mutex is never held across a probe) and ends the job. So a rank ends
// within dist.timeout_s + stall_limit + a monitor tick, however it is stuck. Firing itself is
// bounded by a reaper thread (kFireGrace), started before anything that can block.
void CollectiveWatchdog::monitor() {
  const auto check_every = std::clamp<std::chrono::milliseconds>(
      std::chrono::duration_cast<std::chrono::milliseconds>(stall_limit_) / 4,
      std::chrono::milliseconds(50), std::chrono::milliseconds(1000));
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_requested_.wait_for(lock, check_every, [&] { return monitor_stopping_; })) {
    if (firing_) continue;                         // the reaper bounds it
    if (doing_ == kWaitingForNextCheck) continue;  // a tick may be longer than the limit
    const auto stalled = FlightEntry::Clock::now() -
                         FlightEntry::Clock::time_point(FlightEntry::Clock::duration(last_beat_));
    if (stalled <= stall_limit_) continue;
    lock.unlock();
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1f", std::chrono::duration<double>(stalled).count());
    fire("watchdog monitor: rank " + std::to_string(rank_) + ": the watchdog thread has been " +
         doing_.load() + " for " + seconds + " s (limit " + std::to_string(stall_limit_.count()) +
         " s, dist.timeout_s): a CUDA call or the backend is stuck, likely behind a wedged GPU; "
         "ending the job");
  }
}

bool CollectiveWatchdog::leave_record(const std::string& why) {
  if (record_left_.exchange(true)) return false;
  const std::string text =
      "[rank " + std::to_string(rank_) + "] " + why + "; " + recorder_->to_text(rank_);
  log::print_err(text);  // the table as one block: Note [Output arrives whole]
  std::string dir;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    dir = record_dir_;
  }
  // The run folder is rank 0's; another rank writes there only where it sees the folder (a
  // shared file system). A failed write must not stop the abort.
  if (!is_directory(dir)) return true;
  const std::string path = dir + "/flight_rank" + std::to_string(rank_) + ".json";
  std::string result;
  try {
    write_file_atomic(path, recorder_->to_json(rank_));
    result = "flight record written to " + path;
  } catch (const std::exception& e) {
    result = "could not write " + path + ": " + e.what();
  }
  result = "[rank " + std::to_string(rank_) + "] " + result + "\n";
  log::print_err(result);
  return true;
}

// Everything here must work while the main thread is blocked anywhere, and must not wait for
// the stuck collective: no collective, no CUDA synchronisation, no join. A reaper thread first
// guarantees the abort even if what follows blocks (the run folder on a Lustre file system in
// recovery, an ncclCommAbort behind a wedged GPU): a rank that hung here would leave its peers
// waiting (for dist.rank0_phase_timeout_s, if it is rank 0). Then the diagnosis.
void CollectiveWatchdog::fire(const std::string& message) {
  if (firing_.exchange(true))
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));  // the first caller ends it
  std::thread([] {
    std::this_thread::sleep_for(kFireGrace);
    abort_job(1);
  }).detach();
  const std::string fatal = "[rank " + std::to_string(rank_) + "] FATAL: " + message + "\n";
  log::print_err(fatal);
  if (!leave_record("watchdog fired")) {
    const std::string above = "[rank " + std::to_string(rank_) + "] watchdog fired; its flight " +
                              "record was left above when the timeout was first noticed\n";
    log::print_err(above);
  }
  if (hooks_.abort_backend) hooks_.abort_backend();
  abort_job(1);
}

}  // namespace nxt
