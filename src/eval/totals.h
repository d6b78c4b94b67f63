// Exact metric totals of training and evaluation: losses summed in fixed point, so that a sum
// does not depend on the order ranks or batches add it (1 process or N ranks score alike), and
// integer counts of right top-1 and top-5 predictions.
#pragma once
#include <cstdint>

#include "comm/communicator.h"
#include "common/torch_pch.h"

namespace nxt {

struct MetricTotals {
  int64_t loss_micros = 0;  // sum of per-sample losses, in units of kLossUnit
  int64_t correct = 0;
  int64_t seen = 0;
  // Samples whose label is among the top min(5, classes) logits (Note [top-5 with few classes]);
  // evaluation counts it, training does not (0).
  int64_t top5_correct = 0;

  static constexpr double kLossUnit = 1e-6;
  static MetricTotals from_loss_sum(double loss_sum, int64_t correct, int64_t seen);
  double loss_sum() const { return static_cast<double>(loss_micros) * kLossUnit; }

  // Per-sample losses (a [B] tensor), each rounded to fixed point before summing: the total
  // then does not depend on how samples were batched (1 process or N ranks evaluate alike).
  void add_per_sample(const torch::Tensor& losses, int64_t batch_correct);
  MetricTotals& operator+=(const MetricTotals& other);
  MetricTotals summed_over_ranks(Communicator& comm) const;
  double mean_loss() const { return seen ? loss_sum() / seen : 0.0; }
  double accuracy() const { return seen ? static_cast<double>(correct) / seen : 0.0; }
  double top5_accuracy() const { return seen ? static_cast<double>(top5_correct) / seen : 0.0; }
};

// Note [top-5 with few classes]: top-5 accuracy is counted over the top min(5, classes) logits,
// so with 5 classes or fewer every sample counts and it is trivially 1. Reports (the epoch line,
// metrics.csv, test_metrics.json, nxt_eval's) leave it out then (an empty CSV field, a JSON
// null, no text); reports_top5 decides, for every report alike.
constexpr int64_t kTopK = 5;
inline bool reports_top5(int64_t classes) {
  return classes > kTopK;
}

// How many samples have their label among the top min(5, classes) of their logits ([B, C] and
// [B]): a 0-dim int64 tensor on their device. Ties are broken as torch::topk breaks them.
torch::Tensor top5_correct(const torch::Tensor& logits, const torch::Tensor& labels);

// Per-sample losses (a [B] tensor) in fixed point, summed: a 0-dim int64 tensor on their device.
// add_per_sample and DeviceTotals both round here, so their totals are the same integers.
torch::Tensor fixed_point_loss_sum(const torch::Tensor& losses);

// MetricTotals accumulated on the device of the batches, read back once: the evaluation loop
// then does not wait for the GPU after every batch (an integer sum on the device is exact, so
// the totals equal MetricTotals::add_per_sample's, batch by batch).
class DeviceTotals {
 public:
  // A batch: per-sample losses [B] and its counts of right top-1 and top-5 predictions (0-dim,
  // same device).
  void add(const torch::Tensor& losses, const torch::Tensor& batch_correct,
           const torch::Tensor& batch_top5_correct);
  // The totals so far: one device-to-host copy (none when nothing was added).
  MetricTotals read() const;

 private:
  torch::Tensor sums_;  // int64 [3] on the batches' device: loss_micros, correct, top5_correct
  int64_t seen_ = 0;
};

}  // namespace nxt
