// Implements the bar and the periodic lines.
#include "train/progress.h"

#include <unistd.h>

#include <cstdio>

#include "common/log.h"

namespace nxt {

Progress::Progress(bool enabled, int64_t epoch, int64_t total_steps, double period_seconds)
    : enabled_(enabled),
      terminal_(isatty(STDERR_FILENO) != 0),
      epoch_(epoch),
      total_(total_steps),
      period_(period_seconds),
      start_(Clock::now()),
      last_print_(start_) {}

void Progress::update(int64_t step, double loss, int64_t images) {
  if (!enabled_) return;
  if (first_step_ < 0) first_step_ = step - 1;
  images_ += images;
  const auto now = Clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double since_print = std::chrono::duration<double>(now - last_print_).count();
  if (!terminal_ && since_print < period_ && step < total_) return;
  if (terminal_ && since_print < 0.2 && step < total_) return;
  last_print_ = now;
  const double rate = elapsed > 0 ? images_ / elapsed : 0;
  const double per_step = elapsed / static_cast<double>(std::max<int64_t>(1, step - first_step_));
  const double eta = per_step * static_cast<double>(total_ - step);
  char text[200];
  const int width = 24;
  const int filled = total_ ? static_cast<int>(width * step / total_) : width;
  std::snprintf(text, sizeof text, "epoch %lld [%s%s] %lld/%lld loss %.4f %.1f img/s ETA %d:%02d",
                static_cast<long long>(epoch_), std::string(filled, '#').c_str(),
                std::string(width - filled, '.').c_str(), static_cast<long long>(step),
                static_cast<long long>(total_), loss, rate, static_cast<int>(eta) / 60,
                static_cast<int>(eta) % 60);
  if (terminal_) {
    std::fprintf(stderr, "\r%s\033[K", text);
    std::fflush(stderr);
  } else {
    log::info() << text;
  }
}

void Progress::finish() {
  if (enabled_ && terminal_) std::fprintf(stderr, "\r\033[K");
}

std::string time_split_text(const std::array<double, StepTimer::kPhaseCount>& seconds) {
  double total = 1e-9;
  for (double s : seconds) total += s;
  char text[200];
  std::snprintf(text, sizeof text,
                "rank 0 step time: forward+backward %.1f%%, data %.1f%%, waiting for gradients "
                "%.1f%%, optimizer %.1f%%",
                100 * seconds[StepTimer::kCompute] / total, 100 * seconds[StepTimer::kData] / total,
                100 * seconds[StepTimer::kCommunication] / total,
                100 * seconds[StepTimer::kOptimizer] / total);
  return text;
}

}  // namespace nxt
