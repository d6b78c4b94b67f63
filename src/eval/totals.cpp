// Implements the fixed-point totals.
#include "eval/totals.h"

#include <cmath>

namespace nxt {

torch::Tensor fixed_point_loss_sum(const torch::Tensor& losses) {
  return losses.detach()
      .to(torch::kDouble)
      .div(MetricTotals::kLossUnit)
      .round()
      .to(torch::kLong)
      .sum();
}

void MetricTotals::add_per_sample(const torch::Tensor& losses, int64_t batch_correct) {
  loss_micros += fixed_point_loss_sum(losses).item<int64_t>();
  correct += batch_correct;
  seen += losses.size(0);
}

void DeviceTotals::add(const torch::Tensor& losses, const torch::Tensor& batch_correct) {
  const torch::Tensor batch =
      torch::stack({fixed_point_loss_sum(losses), batch_correct.detach().to(torch::kLong)});
  if (sums_.defined())
    sums_.add_(batch);
  else
    sums_ = batch;
  seen_ += losses.size(0);
}

MetricTotals DeviceTotals::read() const {
  if (!sums_.defined()) return {};
  const torch::Tensor host = sums_.to(torch::kCPU).contiguous();
  const int64_t* values = host.data_ptr<int64_t>();
  return {values[0], values[1], seen_};
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
