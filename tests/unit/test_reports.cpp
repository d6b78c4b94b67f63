// The evaluation report's arithmetic and quoting: per-class scores on a hand-worked confusion
// matrix, batch counting, checkpoint preprocessing round trip, CSV/JSON quoting.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/check.h"
#include "common/text_format.h"
#include "infer/eval_report.h"
#include "train/checkpoint.h"
#include "train/confusion.h"

namespace nxt {
namespace {

// truth \ predicted: a: 3 1 0 / b: 2 4 0 / c: 0 0 0 (class c never occurs and is never predicted)
ConfusionMatrix worked_example() {
  ConfusionMatrix m(3);
  m.add(0, 0, 3);
  m.add(0, 1, 1);
  m.add(1, 0, 2);
  m.add(1, 1, 4);
  return m;
}

TEST(Confusion, ScoresMatchHandWorkedValues) {
  const ConfusionMatrix m = worked_example();
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
  const ConfusionMatrix single = worked_example();
  for (int64_t t = 0; t < 3; ++t)
    for (int64_t p = 0; p < 3; ++p) EXPECT_EQ(batched.count(t, p), single.count(t, p)) << t << p;
  EXPECT_THROW(batched.add(3, 0), Error);
}

TEST(Report, TextAndCsvNameEveryClass) {
  EvalReport report{"best.pt", "d.h5", "val", {"a", "b, with comma", "c"}, worked_example(), 0.5,
                    {},        {},     {}};
  const std::string text = format_report(report);
  EXPECT_NE(text.find("accuracy   0.700000 (7/10)"), std::string::npos) << text;
  EXPECT_NE(text.find("b, with comma"), std::string::npos);
  const std::string csv = confusion_csv(report);
  EXPECT_EQ(csv, "true_class,a,\"b, with comma\",c\na,3,1,0\n\"b, with comma\",2,4,0\nc,0,0,0\n");
  EXPECT_NE(report_json(report).find("\"confusion_matrix\": [[3, 1, 0], [2, 4, 0], [0, 0, 0]]"),
            std::string::npos);
}

TEST(TextFormat, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(csv_field("plain/path.jpg"), "plain/path.jpg");
  EXPECT_EQ(csv_field("say \"hi\", ok"), "\"say \"\"hi\"\", ok\"");
  EXPECT_EQ(json_string("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
  EXPECT_EQ(json_string("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
}

TEST(Checkpoint, PreprocessingRoundTrips) {
  Checkpoint c;
  c.model = {{"w", torch::ones({2})}, {"b", torch::zeros({1})}};
  c.classes = {"x", "y"};
  c.preprocess = Preprocess{40, 30, "crop", 32, {0.1, 0.2, 0.3}, {0.4, 0.5, 0.6}};
  const std::string path = testing::TempDir() + "/preprocess.pt";
  save_checkpoint(c, path);
  const Checkpoint back = load_checkpoint(path);
  ASSERT_TRUE(back.preprocess.has_value());
  EXPECT_EQ(back.preprocess->stored_height, 40);
  EXPECT_EQ(back.preprocess->stored_width, 30);
  EXPECT_EQ(back.preprocess->resize_mode, "crop");
  EXPECT_EQ(back.preprocess->input_size, 32);
  EXPECT_EQ(back.preprocess->mean[2], 0.3);
  EXPECT_EQ(back.preprocess->stddev[0], 0.4);
  c.preprocess.reset();  // checkpoints of older nxt versions
  save_checkpoint(c, path);
  EXPECT_FALSE(load_checkpoint(path).preprocess.has_value());
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace nxt
