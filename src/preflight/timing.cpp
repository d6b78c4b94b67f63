// Implements the preflight's time-bounded loop, its median and the slow-rank test hook
// (Note [Time-bounded measurements] in preflight/timing.h).
#include "preflight/timing.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace nxt {

double seconds_since(PreflightClock::time_point start) {
  return std::chrono::duration<double>(PreflightClock::now() - start).count();
}

PreflightLimit preflight_limit(int64_t timeout_s) {
  if (timeout_s <= kPreflightTimeout.count())
    return {std::chrono::seconds(timeout_s), "dist.timeout_s"};
  return {kPreflightTimeout, "the preflight's cap on dist.timeout_s"};
}

namespace {

// run_delay (ns) of one thread: the second field of its schedstat; -1 when unreadable.
long long run_delay_ns(const std::string& schedstat_path) {
  std::ifstream file(schedstat_path);
  long long runtime = 0, delay = -1;
  if (!(file >> runtime >> delay)) return -1;
  return delay;
}

// (tid, run_delay) of every thread of this process (kProcess) or of the caller (kThread).
std::vector<std::pair<long, long long>> run_delays(CpuWait mode) {
  std::vector<std::pair<long, long long>> delays;
  if (mode == CpuWait::kThread) {
    delays.emplace_back(0, run_delay_ns("/proc/thread-self/schedstat"));
  } else if (mode == CpuWait::kProcess) {
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task", error)) {
      const std::string name = entry.path().filename().string();
      delays.emplace_back(std::atol(name.c_str()),
                          run_delay_ns(entry.path().string() + "/schedstat"));
    }
  }
  return delays;
}

}  // namespace

void CpuWaitProbe::start() {
  start_ = run_delays(mode_);
}

double CpuWaitProbe::waited_s() const {
  long long longest = 0;
  for (const auto& [tid, delay] : run_delays(mode_)) {
    if (delay < 0) continue;
    const auto before = std::find_if(start_.begin(), start_.end(),
                                     [tid = tid](const auto& entry) { return entry.first == tid; });
    // A thread started since start() waited all its run_delay within the step.
    const long long since = before == start_.end() ? 0 : before->second;
    if (since >= 0) longest = std::max(longest, delay - since);
  }
  return static_cast<double>(longest) / 1e9;
}

void SlowDown::after_step(double step_seconds) const {
  if (!active_ || step_seconds <= 0) return;
  std::this_thread::sleep_for(std::chrono::duration<double>((kFactor - 1) * step_seconds));
}

MeasuredRates measure_rates(double budget_s, CpuWait wait, const SlowDown& slow,
                            const std::function<StepWork(bool last)>& step) {
  auto started = PreflightClock::now();
  step(false);
  // The warm-up's wall time predicts the first timed step's, for the `last` decision.
  double previous = seconds_since(started);
  CpuWaitProbe probe(wait);
  std::vector<double> item_rates, byte_rates;
  started = PreflightClock::now();
  for (bool last = false; !last;) {
    last = seconds_since(started) + previous >= budget_s;
    probe.start();
    const auto step_start = PreflightClock::now();
    const StepWork work = step(last);
    const auto counted = [&] { return seconds_since(step_start) - probe.waited_s(); };
    slow.after_step(counted());
    previous = seconds_since(step_start);
    const double seconds = counted();
    if (seconds <= 0) continue;  // a clock too coarse for this step: no rate from it
    item_rates.push_back(work.items / seconds);
    byte_rates.push_back(work.bytes / seconds);
  }
  MeasuredRates rates;
  rates.steps = static_cast<int64_t>(item_rates.size());
  rates.seconds = seconds_since(started);
  rates.items_per_s = median_of(item_rates);
  rates.bytes_per_s = median_of(byte_rates);
  return rates;
}

}  // namespace nxt
