// Implements the confusion matrix and the per-class scores.
#include "eval/confusion.h"

#include "common/check.h"

namespace nxt {

ConfusionMatrix::ConfusionMatrix(int64_t classes)
    : classes_(classes), counts_(static_cast<size_t>(classes * classes), 0) {
  NXT_CHECK(classes >= 0, "a confusion matrix needs a class count >= 0, got ", classes);
}

void ConfusionMatrix::add(int64_t truth, int64_t predicted, int64_t count) {
  NXT_CHECK(truth >= 0 && truth < classes_ && predicted >= 0 && predicted < classes_,
            "confusion matrix: class pair (", truth, ", ", predicted, ") outside [0, ", classes_,
            ")");
  counts_[static_cast<size_t>(truth * classes_ + predicted)] += count;
}

void ConfusionMatrix::add(const torch::Tensor& truth, const torch::Tensor& predicted) {
  NXT_CHECK(truth.numel() == predicted.numel(), "confusion matrix: ", truth.numel(), " labels but ",
            predicted.numel(), " predictions");
  // One small device-to-host copy per batch: K*K counts, not one per sample.
  const torch::Tensor pairs = truth.to(torch::kLong) * classes_ + predicted.to(torch::kLong);
  const torch::Tensor counts = torch::bincount(pairs.flatten(), {}, classes_ * classes_).cpu();
  const auto* values = counts.data_ptr<int64_t>();
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += values[i];
}

void ConfusionMatrix::sum_over_ranks(Communicator& comm) {
  counts_ = comm.all_reduce_integers(counts_, ReduceOp::kSum);
}

int64_t ConfusionMatrix::total() const {
  int64_t sum = 0;
  for (int64_t c : counts_) sum += c;
  return sum;
}

int64_t ConfusionMatrix::correct() const {
  int64_t sum = 0;
  for (int64_t k = 0; k < classes_; ++k) sum += count(k, k);
  return sum;
}

double ConfusionMatrix::accuracy() const {
  const int64_t n = total();
  return n ? static_cast<double>(correct()) / n : 0.0;
}

namespace {

double ratio(int64_t numerator, int64_t denominator) {
  return denominator ? static_cast<double>(numerator) / denominator : 0.0;
}

double harmonic_mean(double a, double b) {
  return a + b > 0 ? 2 * a * b / (a + b) : 0.0;
}

}  // namespace

std::vector<ClassScores> class_scores(const ConfusionMatrix& confusion) {
  const int64_t k = confusion.classes();
  std::vector<ClassScores> scores(static_cast<size_t>(k));
  for (int64_t truth = 0; truth < k; ++truth) {
    for (int64_t predicted = 0; predicted < k; ++predicted) {
      const int64_t n = confusion.count(truth, predicted);
      scores[static_cast<size_t>(truth)].support += n;
      scores[static_cast<size_t>(predicted)].predicted += n;
    }
  }
  for (int64_t c = 0; c < k; ++c) {
    ClassScores& s = scores[static_cast<size_t>(c)];
    s.true_positives = confusion.count(c, c);
    s.precision = ratio(s.true_positives, s.predicted);
    s.recall = ratio(s.true_positives, s.support);
    s.f1 = harmonic_mean(s.precision, s.recall);
  }
  return scores;
}

ClassScores macro_average(const std::vector<ClassScores>& scores) {
  ClassScores mean;
  for (const ClassScores& s : scores) {
    mean.support += s.support;
    mean.predicted += s.predicted;
    mean.true_positives += s.true_positives;
    mean.precision += s.precision;
    mean.recall += s.recall;
    mean.f1 += s.f1;
  }
  const double n = scores.empty() ? 1.0 : static_cast<double>(scores.size());
  mean.precision /= n;
  mean.recall /= n;
  mean.f1 /= n;
  return mean;
}

}  // namespace nxt
