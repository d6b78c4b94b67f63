// Implements the fixed-point totals.
#include "eval/totals.h"

#include <cmath>

namespace nxt {

void MetricTotals::add_per_sample(const torch::Tensor& losses, int64_t batch_correct) {
  loss_micros += losses.detach()
                     .to(torch::kDouble)
                     .div(kLossUnit)
                     .round()
                     .to(torch::kLong)
                     .sum()
                     .item<int64_t>();
  correct += batch_correct;
  seen += losses.size(0);
}

MetricTotals MetricTotals::from_loss_sum(double loss_sum, int64_t correct, int64_t seen) {
  return {std::llround(loss_sum / kLossUnit), correct, seen};
}

MetricTotals& MetricTotals::operator+=(const MetricTotals& other) {
  loss_micros += other.loss_micros;
  correct += other.correct;
  seen += other.seen;
  return *this;
}

MetricTotals MetricTotals::summed_over_ranks(Communicator& comm) const {
  const auto sums = comm.all_reduce_integers({loss_micros, correct, seen}, ReduceOp::kSum);
  return {sums[0], sums[1], sums[2]};
}

}  // namespace nxt
