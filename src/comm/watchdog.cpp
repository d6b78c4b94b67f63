// Implements the watchdog's error, the polled MPI wait with a deadline, and the watchdog
// thread.
#include "comm/watchdog.h"

#include <sys/stat.h>

#include <cstdio>
#include <thread>

#include "common/check.h"
#include "common/fs.h"
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
  throw Error(collective_timeout_text(rank, what, waited_s, limit, limit_key));
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
  out += entry.started == FlightEntry::Clock::time_point{} ? ", queued behind an earlier one"
                                                            : "";
  return out;
}

bool is_directory(const std::string& path) {
  struct stat info {};
  return !path.empty() && ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

}  // namespace

CollectiveWatchdog::CollectiveWatchdog(std::shared_ptr<FlightRecorder> recorder, int rank,
                                       Hooks hooks, std::chrono::milliseconds tick)
    : recorder_(std::move(recorder)), rank_(rank), hooks_(std::move(hooks)), tick_(tick) {
  thread_ = std::thread([this] { run(); });
}

CollectiveWatchdog::~CollectiveWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stop_requested_.notify_all();
  thread_.join();
}

void CollectiveWatchdog::set_record_dir(const std::string& dir) {
  std::lock_guard<std::mutex> lock(mutex_);
  record_dir_ = dir;
}

void CollectiveWatchdog::run() {
  if (hooks_.on_thread_start) hooks_.on_thread_start();
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_requested_.wait_for(lock, tick_, [&] { return stopping_; })) {
    lock.unlock();
    const auto now = FlightEntry::Clock::now();
    recorder_->poll(now);
    if (hooks_.backend_error) {
      const std::string error = hooks_.backend_error();
      if (!error.empty()) fire("rank " + std::to_string(rank_) + ": " + error);
    }
    if (const auto stuck = recorder_->oldest_unfinished()) {
      const double waited = std::chrono::duration<double>(now - stuck->enqueued).count();
      if (waited > static_cast<double>(stuck->deadline.count()))
        fire("watchdog: " + collective_timeout_text(rank_, describe(*stuck), waited,
                                                    stuck->deadline, stuck->deadline_key));
    }
    lock.lock();
  }
}

// Everything here must work while the main thread is blocked anywhere, and must not wait for
// the stuck collective: no collective, no CUDA synchronisation, no join. The diagnosis goes out
// first; then a reaper thread guarantees the abort even if what follows blocks (the run folder
// on a Lustre file system in recovery, an ncclCommAbort behind a wedged GPU): a rank that hung
// here would leave its peers waiting (for dist.rank0_phase_timeout_s, if it is rank 0).
void CollectiveWatchdog::fire(const std::string& message) {
  std::fprintf(stderr, "[rank %d] FATAL: %s\n[rank %d] watchdog fired; %s", rank_, message.c_str(),
               rank_, recorder_->to_text(rank_).c_str());
  std::fflush(stderr);
  std::thread([] {
    std::this_thread::sleep_for(kFireGrace);
    abort_job(1);
  }).detach();
  std::string dir;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    dir = record_dir_;
  }
  // The run folder is rank 0's; another rank writes there only where it sees the folder (a
  // shared file system). A failed write must not stop the abort.
  if (is_directory(dir)) {
    const std::string path = dir + "/flight_rank" + std::to_string(rank_) + ".json";
    try {
      write_file_atomic(path, recorder_->to_json(rank_));
      std::fprintf(stderr, "[rank %d] flight record written to %s\n", rank_, path.c_str());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "[rank %d] could not write %s: %s\n", rank_, path.c_str(), e.what());
    }
  }
  if (hooks_.abort_backend) hooks_.abort_backend();
  abort_job(1);
}

}  // namespace nxt
