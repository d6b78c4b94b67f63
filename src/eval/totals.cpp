// Implements the fixed-point totals.
#include "eval/totals.h"

#include <algorithm>
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

torch::Tensor top5_correct(const torch::Tensor& logits, const torch::Tensor& labels) {
  const int64_t k = std::min(kTopK, logits.size(1));
  const torch::Tensor top = std::get<1>(logits.detach().topk(k, /*dim=*/1));
  return top.eq(labels.view({-1, 1})).any(1).sum();
}

void DeviceTotals::add(const torch::Tensor& losses, const torch::Tensor& batch_correct,
                       const torch::Tensor& batch_top5_correct) {
  const torch::Tensor batch =
      torch::stack({fixed_point_loss_sum(losses), batch_correct.detach().to(torch::kLong),
                    batch_top5_correct.detach().to(torch::kLong)});
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
  MetricTotals totals{values[0], values[1], seen_};
  totals.top5_correct = values[2];
  return totals;
}

MetricTotals MetricTotals::from_loss_sum(double loss_sum, int64_t correct, int64_t seen) {
  return {std::llround(loss_sum / kLossUnit), correct, seen};
}

MetricTotals& MetricTotals::operator+=(const MetricTotals& other) {
  loss_micros += other.loss_micros;
  correct += other.correct;
  seen += other.seen;
  top5_correct += other.top5_correct;
  return *this;
}

MetricTotals MetricTotals::summed_over_ranks(Communicator& comm) const {
  const auto sums =
      comm.all_reduce_integers({loss_micros, correct, seen, top5_correct}, ReduceOp::kSum);
  MetricTotals total{sums[0], sums[1], sums[2]};
  total.top5_correct = sums[3];
  return total;
}

}  // namespace nxt
