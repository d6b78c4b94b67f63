// Rank 0's progress display for one epoch: a live bar on a terminal (step/total, loss, img/s,
// ETA), and a plain line every few seconds otherwise (Slurm logs).
#pragma once
#include <chrono>
#include <string>

#include "train/step_timer.h"

namespace nxt {

// "rank 0 step time: forward+backward 71.3%, data 0.9%, waiting for gradients 24.1%,
// optimizer 3.7%" from a StepTimer's seconds.
std::string time_split_text(const std::array<double, StepTimer::kPhaseCount>& seconds);

class Progress {
 public:
  Progress(bool enabled, int64_t epoch, int64_t total_steps, double period_seconds);
  void update(int64_t step, double loss, int64_t images);
  void finish();

 private:
  using Clock = std::chrono::steady_clock;
  bool enabled_, terminal_;
  int64_t epoch_, total_;
  double period_;
  Clock::time_point start_, last_print_;
  int64_t first_step_ = -1;
  int64_t images_ = 0;
};

}  // namespace nxt
