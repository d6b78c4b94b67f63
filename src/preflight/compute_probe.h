// The preflight's compute figure: forward + backward of a small ResNeXt made from the config's
// model section (its stem and one bottleneck block per stage, at the config's widths), on the
// rank's device, as images/s and GFLOP/s.
#pragma once
#include <cstdint>
#include <string>

#include "common/config.h"
#include "common/torch_pch.h"
#include "model/resnext.h"
#include "preflight/timing.h"

namespace nxt {

struct ComputeFigures {
  std::string model;         // what ran, e.g. "resnext50_32x4d: its stem and 1 block per stage..."
  int64_t batch = 0;         // data.batch_size
  int64_t image_size = 0;    // data.image_size
  double multiply_adds = 0;  // of one image's forward pass
  double images_per_s = 0;   // median over steps (Note [Time-bounded measurements])
  double gflop_per_s = 0;    // images_per_s x multiply_adds x 2 FLOP x 3 (forward + backward)
  int64_t steps = 0;
};

// That model and its inputs on one device, measured as often as asked.
class ComputeProbe {
 public:
  // Builds the model (`classes`: the fc's size) and random inputs of data.batch_size x 3 x
  // data.image_size^2 on `device`, as the trainer would lay them out: channels-last per
  // train.channels_last, bf16 autocast per train.amp on a GPU. `rank` (in the job) and `limit`
  // bound and name the waits for the device.
  ComputeProbe(const Config& config, int64_t classes, torch::Device device, int rank,
               PreflightLimit limit);

  // Trains (forward, cross-entropy, backward; no optimizer step) for `budget_s` after one
  // warm-up step; the host waits for the device after each step (Note [Time-bounded
  // measurements]: on a CPU device the run-queue waits of the process's threads do not count).
  // On a GPU that wait polls an event under the limit: a stuck GPU ends it with an Error naming
  // the rank, the probe and the limit (a blocking synchronize would wait for ever, and a job of
  // one rank has no peer whose watchdog could end it).
  ComputeFigures measure(double budget_s, const SlowDown& slow);

 private:
  ComputeFigures figures_;  // what measure() fills in, the rest set once
  torch::Device device_;
  int rank_ = 0;
  PreflightLimit limit_;
  ResNeXt model_{nullptr};
  torch::Tensor images_, labels_;
  bool autocast_ = false;
};

}  // namespace nxt
