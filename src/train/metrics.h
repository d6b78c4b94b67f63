// Training metrics: the step's device-side accumulators (StepMetrics), the notebook's per-epoch
// line, and metrics.csv. The exact totals they produce are eval/totals.h's.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "comm/device_wait.h"
#include "common/torch_pch.h"
#include "eval/totals.h"

namespace nxt {

// One rank's training metrics between two reads, accumulated on the device so that a step
// needs no host sync: micro-batches add to the step, a step that is applied commits to the
// pending totals, and read() brings those to the host and starts over. read() and
// step_loss_sum() are the only device-to-host reads of the training step; host_reads()
// counts them, so a test can check that a step makes none of its own.
class StepMetrics {
 public:
  // `limit`: how long a read waits for the device before it ends the rank
  // (comm/device_wait.h).
  StepMetrics(torch::Device device, DeviceWaitLimit limit);
  void start_step();
  // A micro-batch: its mean loss, logits and labels (all on the device).
  void add(const torch::Tensor& mean_loss, const torch::Tensor& logits,
           const torch::Tensor& labels);
  void commit();  // the step was applied (not skipped)
  // The step's summed loss, read now (train.skip_nonfinite decides on it before the update).
  double step_loss_sum();
  struct Read {
    MetricTotals totals;  // since the last read
    bool finite = true;   // the summed loss is a number
  };
  Read read();
  int64_t pending_samples() const { return pending_seen_; }
  static int64_t host_reads();

 private:
  // Waits (bounded) for the device's queued work before a host read.
  void wait_for_values(const char* what) const;

  torch::Device device_;
  DeviceWaitLimit limit_;
  torch::Tensor step_loss_sum_, step_correct_, loss_sum_, correct_;  // device scalars
  int64_t step_seen_ = 0, pending_seen_ = 0;
};

struct EpochRecord {
  int64_t epoch = 0;  // 1-based, as the notebook prints it
  double train_acc = 0, train_loss = 0, val_acc = 0, val_loss = 0, lr = 0;
  double seconds = 0, images_per_second = 0;
  // Absent with 5 classes or fewer (Note [top-5 with few classes] in eval/totals.h).
  std::optional<double> val_top5;
  // The EMA of the weights on the val split (train.ema_decay; absent when it is off).
  struct Ema {
    double val_acc = 0, val_loss = 0;
  };
  std::optional<Ema> ema;
};

// "Epoch: 1, Train_acc: 93.75%, Train_loss: 0.2011, Test_acc: ..., Test_loss: ...,
// [Test_top5: ...%, ][Test_acc_ema: ...%, Test_loss_ema: ..., ]Lr: 0.0001, ..."
std::string notebook_line(const EpochRecord& record);

// metrics.csv: the header, then one row per epoch; rewritten atomically after each epoch. New
// columns go last (the multinode tests read columns by position; tests/gpu/check.sh by name);
// val_top5 is empty with 5 classes or fewer, val_acc_ema and val_loss_ema without the EMA.
class MetricsCsv {
 public:
  explicit MetricsCsv(std::string path);
  // Keeps the rows of epochs before `first_epoch` from an existing file (a resumed run); rows
  // of an older nxt, with fewer columns, get empty fields for the new ones.
  void keep_rows_before(int64_t first_epoch);
  void append(const EpochRecord& record);
  static const char* header();

 private:
  std::string path_;
  std::vector<std::string> rows_;
};

}  // namespace nxt
