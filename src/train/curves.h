// curves.png: accuracy and loss for train and val, like the notebook's figure, redrawn after
// each epoch by src/train/plot_curves.py (Debian's python3-matplotlib) in the background. If
// Python or matplotlib is missing, training goes on with one warning.
#pragma once
#include <sys/types.h>
#include <string>

namespace nxt {

class CurvePlotter {
 public:
  CurvePlotter(std::string metrics_csv, std::string png);
  ~CurvePlotter();
  void redraw();  // starts a redraw (after the previous one has finished)
  void wait();    // waits for the running redraw; warns once if it failed

 private:
  std::string csv_, png_, python_, script_;
  pid_t running_ = -1;
  bool warned_ = false;
};

}  // namespace nxt
