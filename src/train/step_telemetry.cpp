// Implements the per-rank step telemetry: the gather at each metric read, rank 0's windows, and
// the straggler analysis and its text (Note [Straggler report] in the header).
#include "train/step_telemetry.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/check.h"
#include "common/median.h"

namespace nxt {

double RankWindow::per_step(StepTimer::Phase phase) const {
  return steps > 0 ? seconds[phase] / static_cast<double>(steps) : 0.0;
}

double RankWindow::busy_per_step() const {
  return per_step(StepTimer::kData) + per_step(StepTimer::kCompute) +
         per_step(StepTimer::kOptimizer);
}

namespace {

// Forward/backward and the optimizer: the rank's compute (Note [Straggler report]).
double compute_per_step(const RankWindow& w) {
  return w.per_step(StepTimer::kCompute) + w.per_step(StepTimer::kOptimizer);
}

// The phase of data and compute that exceeds the median rank's by the most.
SlowPhase slow_phase_of(const RankWindow& rank, const RankWindow& median) {
  const double data = rank.per_step(StepTimer::kData) - median.per_step(StepTimer::kData);
  const double compute = compute_per_step(rank) - compute_per_step(median);
  return data >= compute ? SlowPhase::kData : SlowPhase::kCompute;
}

std::string ms(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f ms", 1000 * seconds);
  return text;
}

std::string ratio_text(double ratio) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2fx", ratio);
  return text;
}

std::string rank_text(int rank, const std::vector<std::string>& host_of_rank) {
  const std::string host =
      static_cast<size_t>(rank) < host_of_rank.size() ? host_of_rank[rank] : "?";
  return "rank " + std::to_string(rank) + " (" + host + ")";
}

}  // namespace

StragglerReport find_stragglers(const std::vector<RankWindow>& ranks, double threshold) {
  StragglerReport report;
  std::vector<int> active;
  for (size_t r = 0; r < ranks.size(); ++r)
    if (ranks[r].steps > 0) active.push_back(static_cast<int>(r));
  report.ranks = static_cast<int>(active.size());
  if (active.empty()) return report;
  // The median rank, phase by phase, as a one-step window.
  report.median.steps = 1;
  for (int phase = 0; phase < StepTimer::kPhaseCount; ++phase) {
    std::vector<double> values;
    for (int r : active) values.push_back(ranks[r].per_step(static_cast<StepTimer::Phase>(phase)));
    report.median.seconds[phase] = median_of(values);
  }
  std::vector<double> busy;
  for (int r : active) busy.push_back(ranks[r].busy_per_step());
  report.median_busy = median_of(busy);
  const auto [fastest, slowest] = std::minmax_element(busy.begin(), busy.end());
  report.slowest_rank = active[static_cast<size_t>(slowest - busy.begin())];
  if (report.median_busy <= 0) return report;
  report.slowest_ratio = *slowest / report.median_busy;
  report.slowest_phase = slow_phase_of(ranks[report.slowest_rank], report.median);
  report.spread = (*slowest - *fastest) / report.median_busy;
  for (size_t k = 0; k < active.size(); ++k) {
    const double ratio = busy[k] / report.median_busy;
    if (ratio > threshold)
      report.flagged.push_back({active[k], ratio, slow_phase_of(ranks[active[k]], report.median)});
  }
  std::sort(report.flagged.begin(), report.flagged.end(),
            [](const Straggler& a, const Straggler& b) { return a.ratio > b.ratio; });
  if (report.flagged.empty()) {
    const double data = report.median.per_step(StepTimer::kData);
    const double compute = compute_per_step(report.median);
    const double wait = report.median.per_step(StepTimer::kCommunication);
    report.job_phase = wait > data && wait > compute ? SlowPhase::kCommunication
                       : data > compute              ? SlowPhase::kData
                                                     : SlowPhase::kCompute;
  }
  return report;
}

std::string straggler_text(const StragglerReport& report,
                           const std::vector<std::string>& host_of_rank, int64_t first_step,
                           int64_t last_step) {
  std::string text = "straggler report (steps " + std::to_string(first_step) + "-" +
                     std::to_string(last_step) + ", " + std::to_string(report.ranks) +
                     " rank(s)): ";
  const RankWindow& m = report.median;
  const std::string median_split = "data " + ms(m.per_step(StepTimer::kData)) + ", compute " +
                                   ms(compute_per_step(m)) + ", all-reduce wait " +
                                   ms(m.per_step(StepTimer::kCommunication));
  if (report.flagged.empty()) {
    return text + "every rank within " + ratio_text(kStragglerThreshold) +
           " of the median rank's busy time (slowest " +
           rank_text(report.slowest_rank, host_of_rank) + " " + ratio_text(report.slowest_ratio) +
           "); median rank per step: " + median_split +
           "; largest phase: " + name_of(report.job_phase, kSlowPhaseNames);
  }
  const Straggler& worst = report.flagged.front();
  text += "slowest " + rank_text(worst.rank, host_of_rank) + " is " + ratio_text(worst.ratio) +
          " the median rank's busy time per step (" + ms(worst.ratio * report.median_busy) +
          " vs " + ms(report.median_busy) +
          "), slow phase: " + name_of(worst.phase, kSlowPhaseNames) +
          "; median rank per step: " + median_split + "; " + std::to_string(report.flagged.size()) +
          " rank(s) more than 20% slower than the "
          "median: ";
  for (size_t k = 0; k < report.flagged.size(); ++k) {
    if (k == 8) {
      text += ", and " + std::to_string(report.flagged.size() - k) + " more";
      break;
    }
    const Straggler& s = report.flagged[k];
    text += (k ? ", " : "") + rank_text(s.rank, host_of_rank) + " " + ratio_text(s.ratio) + " " +
            name_of(s.phase, kSlowPhaseNames);
  }
  return text;
}

nlohmann::json ranks_json(const std::vector<RankWindow>& ranks,
                          const std::vector<std::string>& host_of_rank) {
  nlohmann::json all = nlohmann::json::array();
  const auto rounded_ms = [](double seconds) { return std::round(seconds * 1e6) / 1e3; };
  for (size_t r = 0; r < ranks.size(); ++r) {
    const RankWindow& w = ranks[r];
    all.push_back({{"rank", r},
                   {"host", r < host_of_rank.size() ? host_of_rank[r] : "?"},
                   {"steps", w.steps},
                   {"data_ms", rounded_ms(w.per_step(StepTimer::kData))},
                   {"compute_ms", rounded_ms(w.per_step(StepTimer::kCompute))},
                   {"allreduce_wait_ms", rounded_ms(w.per_step(StepTimer::kCommunication))},
                   {"optimizer_ms", rounded_ms(w.per_step(StepTimer::kOptimizer))},
                   {"busy_ms", rounded_ms(w.busy_per_step())}});
  }
  return all;
}

StepTelemetry::StepTelemetry(int rank, int world, int windows)
    : rank_(rank),
      world_(world),
      windows_(static_cast<size_t>(windows),
               std::vector<RankWindow>(static_cast<size_t>(rank == 0 ? world : 0))) {}

void StepTelemetry::restart_timer() {
  last_seconds_ = {};
  last_steps_ = 0;
}

// One all-reduce as a gather: rank r fills its own slot, the others hold 0 there.
void StepTelemetry::gather(const PhaseSeconds& timer_seconds, int64_t timer_steps,
                           Communicator& comm) {
  constexpr size_t kSlot = StepTimer::kPhaseCount + 1;
  std::vector<double> table(static_cast<size_t>(world_) * kSlot, 0.0);
  double* mine = &table[static_cast<size_t>(rank_) * kSlot];
  for (int phase = 0; phase < StepTimer::kPhaseCount; ++phase)
    mine[phase] = timer_seconds[phase] - last_seconds_[phase];
  mine[StepTimer::kPhaseCount] = static_cast<double>(timer_steps - last_steps_);
  last_seconds_ = timer_seconds;
  last_steps_ = timer_steps;
  table = comm.all_reduce_scalars(table, ReduceOp::kSum);
  if (rank_ != 0) return;
  for (auto& window : windows_)
    for (size_t r = 0; r < window.size(); ++r) {
      const double* slot = &table[r * kSlot];
      for (int phase = 0; phase < StepTimer::kPhaseCount; ++phase)
        window[r].seconds[phase] += slot[phase];
      window[r].steps += static_cast<int64_t>(slot[StepTimer::kPhaseCount]);
    }
}

std::vector<RankWindow> StepTelemetry::take(int window) {
  NXT_CHECK(rank_ == 0 && window >= 0 && static_cast<size_t>(window) < windows_.size(),
            "StepTelemetry::take(", window, ") on rank ", rank_);
  std::vector<RankWindow> taken = windows_[window];
  for (RankWindow& w : windows_[window]) w = {};
  return taken;
}

int64_t StepTelemetry::steps_in(int window) const {
  int64_t steps = 0;
  for (const RankWindow& w : windows_.at(static_cast<size_t>(window)))
    steps = std::max(steps, w.steps);
  return steps;
}

}  // namespace nxt
