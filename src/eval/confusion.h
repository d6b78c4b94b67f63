// The confusion matrix of an evaluation: exact integer counts per (true class, predicted class),
// summed over ranks like the other metrics, and the per-class precision, recall and F1 read off it.
#pragma once
#include <cstdint>
#include <vector>

#include "comm/communicator.h"
#include "common/torch_pch.h"

namespace nxt {

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int64_t classes = 0);

  // Counts one batch: int64 class indices of equal length, on any device.
  void add(const torch::Tensor& truth, const torch::Tensor& predicted);
  void add(int64_t truth, int64_t predicted, int64_t count = 1);
  void sum_over_ranks(Communicator& comm);

  int64_t classes() const { return classes_; }
  int64_t count(int64_t truth, int64_t predicted) const {
    return counts_[static_cast<size_t>(truth * classes_ + predicted)];
  }
  int64_t total() const;
  int64_t correct() const;  // the diagonal
  double accuracy() const;

 private:
  int64_t classes_;
  std::vector<int64_t> counts_;  // row-major [truth][predicted]
};

struct ClassScores {
  int64_t support = 0;    // samples of this class
  int64_t predicted = 0;  // samples predicted as this class
  int64_t true_positives = 0;
  double precision = 0, recall = 0, f1 = 0;  // 0 where undefined (nothing predicted / no support)
};

std::vector<ClassScores> class_scores(const ConfusionMatrix& confusion);

// Unweighted mean over classes (scikit-learn's "macro" average).
ClassScores macro_average(const std::vector<ClassScores>& scores);

}  // namespace nxt
