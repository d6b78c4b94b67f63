// Tests the confusion matrix (eval/confusion.h): per-class scores and the macro average on a
// hand-worked matrix, and counting a batch of tensors against counting one sample at a time.
#include <gtest/gtest.h>

#include "common/check.h"
#include "confusion_example.h"
#include "eval/confusion.h"

namespace nxt {
namespace {

using testing_support::worked_confusion;

TEST(Confusion, ScoresMatchHandWorkedValues) {
  const ConfusionMatrix m = worked_confusion();
  EXPECT_EQ(m.total(), 10);
  EXPECT_EQ(m.correct(), 7);
  EXPECT_DOUBLE_EQ(m.accuracy(), 0.7);
  const auto s = class_scores(m);
  EXPECT_DOUBLE_EQ(s[0].precision, 3.0 / 5);
  EXPECT_DOUBLE_EQ(s[0].recall, 3.0 / 4);
  EXPECT_DOUBLE_EQ(s[0].f1, 2 * 0.6 * 0.75 / (0.6 + 0.75));
  EXPECT_DOUBLE_EQ(s[1].precision, 4.0 / 5);
  EXPECT_DOUBLE_EQ(s[1].recall, 4.0 / 6);
  EXPECT_EQ(s[1].support, 6);
  EXPECT_EQ(s[2].support, 0);  // undefined scores are 0, not NaN
  EXPECT_EQ(s[2].precision, 0);
  EXPECT_EQ(s[2].f1, 0);
  EXPECT_DOUBLE_EQ(macro_average(s).recall, (0.75 + 4.0 / 6 + 0) / 3);
}

TEST(Confusion, BatchCountsEqualSingleCounts) {
  ConfusionMatrix batched(3);
  batched.add(torch::tensor({0, 0, 0, 0, 1, 1, 1, 1, 1, 1}),
              torch::tensor({0, 0, 0, 1, 0, 0, 1, 1, 1, 1}));
  const ConfusionMatrix single = worked_confusion();
  for (int64_t t = 0; t < 3; ++t)
    for (int64_t p = 0; p < 3; ++p) EXPECT_EQ(batched.count(t, p), single.count(t, p)) << t << p;
  EXPECT_THROW(batched.add(3, 0), Error);
}

}  // namespace
}  // namespace nxt
