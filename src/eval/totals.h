// Exact metric totals of training and evaluation: losses summed in fixed point, so that a sum
// does not depend on the order ranks or batches add it (1 process or N ranks score alike).
#pragma once
#include <cstdint>

#include "comm/communicator.h"
#include "common/torch_pch.h"

namespace nxt {

struct MetricTotals {
  int64_t loss_micros = 0;  // sum of per-sample losses, in units of kLossUnit
  int64_t correct = 0;
  int64_t seen = 0;

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
};

}  // namespace nxt
