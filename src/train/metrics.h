// Training and evaluation metrics: exact totals (losses in fixed point, so sums do not depend
// on the order ranks add them), the notebook's per-epoch line, and metrics.csv.
#pragma once
#include <string>
#include <vector>

#include "common/torch_pch.h"
#include "dist/communicator.h"

namespace nxt {

struct MetricTotals {
  int64_t loss_micros = 0;  // sum of per-sample losses, in units of 1e-6
  int64_t correct = 0;
  int64_t seen = 0;

  void add(double loss_sum, int64_t batch_correct, int64_t batch_size);
  // Per-sample losses (a [B] tensor), each rounded to fixed point before summing: the total
  // then does not depend on how samples were batched (1 process or N ranks evaluate alike).
  void add_per_sample(const torch::Tensor& losses, int64_t batch_correct);
  MetricTotals& operator+=(const MetricTotals& other);
  MetricTotals summed_over_ranks(Communicator& comm) const;
  double mean_loss() const { return seen ? loss_micros * 1e-6 / seen : 0.0; }
  double accuracy() const { return seen ? static_cast<double>(correct) / seen : 0.0; }
};

struct EpochRecord {
  int64_t epoch = 0;  // 1-based, as the notebook prints it
  double train_acc = 0, train_loss = 0, val_acc = 0, val_loss = 0, lr = 0;
  double seconds = 0, images_per_second = 0;
};

// "Epoch: 1, Train_acc: 93.75%, Train_loss: 0.2011, Test_acc: ..., Lr: 0.0001, ..."
std::string notebook_line(const EpochRecord& record);

// metrics.csv: the header, then one row per epoch; rewritten atomically after each epoch.
class MetricsCsv {
 public:
  explicit MetricsCsv(std::string path);
  // Keeps the rows of epochs before `first_epoch` from an existing file (a resumed run).
  void keep_rows_before(int64_t first_epoch);
  void append(const EpochRecord& record);
  static const char* header();

 private:
  std::string path_;
  std::vector<std::string> rows_;
};

}  // namespace nxt
