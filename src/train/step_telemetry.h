// Per-rank step telemetry: at each metric read every rank's step time split since the previous
// read (train/step_timer.h: data wait, forward + backward, exposed all-reduce wait, optimizer)
// is gathered in one small all-reduce; rank 0 adds it up in windows and reports the slowest
// rank, its host, its ratio to the median rank and the phase that makes it slow (Note
// [Straggler report]).
//
// Note [Straggler report]
// Data parallelism is as fast as its slowest rank, and every rank takes the same time per step:
// the others wait for the slow one in the gradient all-reduce. So the total step time cannot
// tell a straggler; the time a rank spends on its own work can: its busy time, data wait +
// forward/backward + optimizer, i.e. the step less its exposed all-reduce wait. A straggler's
// busy time is high and its all-reduce wait low; the others' the reverse. A rank is flagged
// when its busy time exceeds 1.2x the median rank's, and its slow phase is the one of data
// (loader, file system, host-to-device copy) and compute (forward, backward, optimizer) that
// exceeds the median rank's by the most. Communication is not a per-rank verdict (a fast rank
// waits longer, not a slow one); it is named when no rank is flagged and the exposed all-reduce
// wait is the median rank's largest phase: the job is then communication-bound. On a GPU the
// split comes from CUDA events on the compute stream, read at the metric read (no extra sync),
// so a host-side stall (a slow loader) shows up as the gap it leaves on the device.
#pragma once
#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "common/enum_names.h"
#include "train/step_timer.h"

namespace nxt {

using PhaseSeconds = std::array<double, StepTimer::kPhaseCount>;

// One rank's phase times over a window, and the steps they cover.
struct RankWindow {
  PhaseSeconds seconds{};
  int64_t steps = 0;
  double per_step(StepTimer::Phase phase) const;
  // Data wait + forward/backward + optimizer per step: the rank's own work.
  double busy_per_step() const;
};

enum class SlowPhase { kNone, kData, kCompute, kCommunication };
inline const EnumNames<SlowPhase> kSlowPhaseNames = {{SlowPhase::kNone, "none"},
                                                     {SlowPhase::kData, "data"},
                                                     {SlowPhase::kCompute, "compute"},
                                                     {SlowPhase::kCommunication, "communication"}};

struct Straggler {
  int rank = 0;
  double ratio = 1;  // busy time / the median rank's
  SlowPhase phase = SlowPhase::kNone;
};

struct StragglerReport {
  int ranks = 0;
  int slowest_rank = 0;
  double slowest_ratio = 1;  // its busy time / the median rank's
  SlowPhase slowest_phase = SlowPhase::kNone;
  RankWindow median;       // per phase, the median over ranks (one step)
  double median_busy = 0;  // seconds per step
  // (slowest - fastest busy time) / the median's: 0 when every rank does the same work.
  double spread = 0;
  std::vector<Straggler> flagged;  // ranks above the threshold, slowest first
  // With no rank flagged, the median rank's largest phase (kCommunication: communication-bound).
  SlowPhase job_phase = SlowPhase::kNone;
};

inline constexpr double kStragglerThreshold = 1.2;  // Note [Straggler report]

// The analysis of one window (one entry per rank, ranks without steps ignored). Pure.
StragglerReport find_stragglers(const std::vector<RankWindow>& ranks,
                                double threshold = kStragglerThreshold);

// "straggler report (steps 21-40, 4 ranks): rank 3 (node2) 2.41x the median rank's busy time
// ...; slow phase: data; ..." for rank 0's log. `host_of_rank` names each rank's host.
std::string straggler_text(const StragglerReport& report,
                           const std::vector<std::string>& host_of_rank, int64_t first_step,
                           int64_t last_step);

// train_log.jsonl's "ranks": one object per rank, milliseconds per step of each phase.
nlohmann::json ranks_json(const std::vector<RankWindow>& ranks,
                          const std::vector<std::string>& host_of_rank);

class StepTelemetry {
 public:
  // Rank 0 keeps `windows` independent windows (each one reported and restarted on its own).
  StepTelemetry(int rank, int world, int windows);

  // Collective: every rank contributes its StepTimer's figures since that timer began
  // (`timer_seconds`, `timer_steps`); the part since the previous gather goes to rank 0.
  void gather(const PhaseSeconds& timer_seconds, int64_t timer_steps, Communicator& comm);
  // The StepTimer was replaced (a new epoch): its figures start again from 0.
  void restart_timer();
  // Rank 0: window `window`'s per-rank figures since it was last taken, then restarts it.
  std::vector<RankWindow> take(int window);
  // Rank 0: steps in window `window` so far (the rank with the most).
  int64_t steps_in(int window) const;

 private:
  int rank_, world_;
  PhaseSeconds last_seconds_{};
  int64_t last_steps_ = 0;
  std::vector<std::vector<RankWindow>> windows_;
};

}  // namespace nxt
