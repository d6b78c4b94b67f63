// Rank 0's progress display for one epoch: a live bar on a terminal (step/total, loss, img/s,
// ETA), and a plain line every few seconds otherwise (Slurm logs).
#pragma once
#include <chrono>
#include <string>

namespace nxt {

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
