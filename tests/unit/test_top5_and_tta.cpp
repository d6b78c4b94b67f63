// Tests top-5 accuracy (eval/totals.h: its count on hand-made logits, its device totals, and the
// reports that show it: the epoch line, metrics.csv, nxt_eval's report) and flip test-time
// augmentation (eval/forward.h: the mean of the logits of an image and of its mirror).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "confusion_example.h"
#include "eval/forward.h"
#include "eval/totals.h"
#include "infer/eval_report.h"
#include "test_support.h"
#include "tiny_model.h"
#include "train/metrics.h"

namespace nxt {
namespace {

// Logits over 7 classes, one row per case; `labels` the true classes.
TEST(TopFive, CountsLabelsAmongTheFiveLargestLogits) {
  const torch::Tensor logits = torch::tensor({
                                                 {9.f, 1.f, 2.f, 3.f, 4.f, 5.f, 6.f},  // top-1
                                                 {9.f, 1.f, 2.f, 3.f, 4.f, 5.f, 6.f},  // 5th
                                                 {9.f, 1.f, 2.f, 3.f, 4.f, 5.f, 6.f},  // 6th
                                                 {9.f, 1.f, 2.f, 3.f, 4.f, 5.f, 6.f},  // 7th
                                                 {2.f, 2.f, 2.f, 2.f, 0.f, 0.f, 1.f},  // tied, in
                                             })
                                   .view({5, 7});
  const torch::Tensor labels = torch::tensor({0, 3, 2, 1, 2}, torch::kLong);
  const torch::Tensor count = top5_correct(logits, labels);
  EXPECT_EQ(count.scalar_type(), torch::kLong);
  EXPECT_EQ(count.item<int64_t>(), 3);  // rows 0, 1 and 4
  EXPECT_EQ(top5_correct(logits.slice(0, 2, 4), labels.slice(0, 2, 4)).item<int64_t>(), 0);
}

// Four logits tie for the last two places: the label counts exactly when torch::topk keeps it,
// as torchvision's reference accuracy (output.topk(5)) counts it.
TEST(TopFive, BreaksTiesAsTorchTopkDoes) {
  const torch::Tensor row = torch::tensor({5.f, 4.f, 3.f, 1.f, 1.f, 1.f, 1.f, 0.f});
  const torch::Tensor kept = std::get<1>(row.view({1, 8}).topk(5, 1)).view({-1});
  int64_t counted = 0;
  for (int64_t label = 3; label <= 6; ++label) {
    const bool in_topk = kept.eq(label).any().item<bool>();
    const int64_t count =
        top5_correct(row.view({1, 8}), torch::tensor({label}, torch::kLong)).item<int64_t>();
    EXPECT_EQ(count, in_topk ? 1 : 0) << "label " << label;
    counted += count;
  }
  EXPECT_EQ(counted, 2);  // two of the four tied classes fill places 4 and 5
}

// With 5 classes or fewer every sample counts (Note [top-5 with few classes]).
TEST(TopFive, WithFiveClassesOrFewerEverySampleCounts) {
  torch::manual_seed(3);
  const torch::Tensor logits = torch::randn({6, 3});
  const torch::Tensor labels = torch::tensor({0, 1, 2, 2, 1, 0}, torch::kLong);
  EXPECT_EQ(top5_correct(logits, labels).item<int64_t>(), 6);
  EXPECT_FALSE(reports_top5(5));
  EXPECT_TRUE(reports_top5(6));
}

TEST(TopFive, TotalsAddAcrossShards) {
  MetricTotals a{10, 2, 4}, b{20, 1, 3};
  a.top5_correct = 3;
  b.top5_correct = 2;
  a += b;
  EXPECT_EQ(a.top5_correct, 5);
  EXPECT_DOUBLE_EQ(a.top5_accuracy(), 5.0 / 7);
}

TEST(TopFive, EpochLineAndCsvShowItOnlyWhenCounted) {
  EpochRecord record{1, 0.5, 1.0, 0.25, 2.0, 0.1, 3.0, 40.0};
  EXPECT_EQ(notebook_line(record).find("Test_top5"), std::string::npos);
  record.val_top5 = 0.875;
  EXPECT_NE(notebook_line(record).find("Test_loss: 2.0000, Test_top5: 87.50%, Lr: 0.1"),
            std::string::npos)
      << notebook_line(record);

  testing_support::TempDir dir("top5_csv");
  const std::string path = dir.path("metrics.csv");
  // A row of an nxt before the column: kept on resume, with empty fields added (also for the
  // EMA's columns, empty without train.ema_decay).
  write_file_atomic(path,
                    "epoch,train_acc,train_loss,val_acc,val_loss,lr,seconds,images_per_s\n"
                    "1,0.5,1.0,0.25,2.0,0.1,3.0,40.0\n2,0.5,1.0,0.25,2.0,0.1,3.0,40.0\n");
  MetricsCsv csv(path);
  csv.keep_rows_before(2);
  record.epoch = 2;
  csv.append(record);
  EXPECT_EQ(read_file_text(path),
            std::string(MetricsCsv::header()) +
                "\n1,0.5,1.0,0.25,2.0,0.1,3.0,40.0,,,\n"
                "2,0.500000,1.000000,0.250000,2.000000,0.1,3.000,40.00,0.875000,,\n");
}

TEST(TopFive, EvalReportShowsItWhenCounted) {
  EvalReport report{
      "best.pt", "d.h5", "val", {"a", "b", "c"}, testing_support::worked_confusion(), 0.5,
      {},        {},     {}};
  EXPECT_EQ(format_report(report).find("top-5"), std::string::npos);
  EXPECT_TRUE(nlohmann::json::parse(report_json(report))["top5_accuracy"].is_null());
  report.top5_correct = 9;
  report.tta = EvalTta::kFlip;
  const std::string text = format_report(report);
  EXPECT_NE(text.find("top-5      0.900000 (9/10)\ntta        flip\n"), std::string::npos) << text;
  const auto json = nlohmann::json::parse(report_json(report));
  EXPECT_DOUBLE_EQ(json["top5_accuracy"].get<double>(), 0.9);
  EXPECT_EQ(json["tta"], "flip");
}

// eval.tta flip: the mean of the model's logits on the batch and on its horizontal mirror.
TEST(FlipTta, LogitsAreTheMeanOverTheImageAndItsMirror) {
  torch::manual_seed(11);
  ResNeXt model(testing_support::tiny_spec(7));
  model->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor input = torch::randn({3, 3, 32, 32});
  const torch::Tensor expected =
      (model->forward(input) + model->forward(torch::flip(input, {3}))) / 2;
  const torch::Tensor flipped = eval_logits(model, input, /*bf16_autocast=*/false, EvalTta::kFlip);
  EXPECT_LE((flipped - expected).abs().max().item<float>(), 1e-6f);
  const torch::Tensor plain = eval_logits(model, input, false, EvalTta::kNone);
  EXPECT_LE((plain - model->forward(input)).abs().max().item<float>(), 1e-6f);
  EXPECT_GT((plain - flipped).abs().max().item<float>(), 1e-4f) << "the mirror changed nothing";
}

}  // namespace
}  // namespace nxt
