// The evaluation report's arithmetic and quoting: per-class scores on a hand-worked confusion
// matrix, batch counting, checkpoint preprocessing round trip, CSV/JSON quoting.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "common/check.h"
#include "common/fs.h"
#include "common/text_format.h"
#include "infer/eval_report.h"
#include "checkpoint/checkpoint.h"
#include "eval/confusion.h"

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
  const auto json = nlohmann::json::parse(report_json(report));
  EXPECT_EQ(json["confusion_matrix"], nlohmann::json::parse("[[3, 1, 0], [2, 4, 0], [0, 0, 0]]"));
  EXPECT_EQ(json["classes"][1], "b, with comma");
  EXPECT_DOUBLE_EQ(json["accuracy"].get<double>(), 0.7);  // full precision, not rounded text
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
  c.preprocess = Preprocess{40, 30, "crop", 32, 0.875, {0.1, 0.2, 0.3}, {0.4, 0.5, 0.6}};
  const std::string path = testing::TempDir() + "/preprocess.pt";
  save_checkpoint(c, path);
  const Checkpoint back = load_checkpoint(path);
  ASSERT_TRUE(back.preprocess.has_value());
  EXPECT_EQ(back.preprocess->stored_height, 40);
  EXPECT_EQ(back.preprocess->stored_width, 30);
  EXPECT_EQ(back.preprocess->resize_mode, "crop");
  EXPECT_EQ(back.preprocess->input_size, 32);
  EXPECT_EQ(back.preprocess->eval_crop_ratio, 0.875);
  EXPECT_EQ(back.preprocess->mean[2], 0.3);
  EXPECT_EQ(back.preprocess->stddev[0], 0.4);
  c.preprocess.reset();  // checkpoints of older nxt versions
  save_checkpoint(c, path);
  EXPECT_FALSE(load_checkpoint(path).preprocess.has_value());
  std::filesystem::remove(path);
}

// Checkpoints are now pickled plain (no TorchScript type tags, for PyTorch 2.6's weights-only
// torch.load). Files written before that, by torch::pickle_save with typed dicts and int/float
// lists and without the world-size keys, still load.
TEST(Checkpoint, TaggedCheckpointsOfEarlierVersionsStillLoad) {
  c10::Dict<std::string, torch::Tensor> model;
  model.insert("w", torch::ones({2}));
  c10::impl::GenericDict preprocess(c10::StringType::get(), c10::AnyType::get());
  preprocess.insert("stored_size", c10::List<int64_t>({40, 30}));
  preprocess.insert("resize_mode", std::string("stretch"));
  preprocess.insert("input_size", int64_t{32});
  preprocess.insert("mean", c10::List<double>({0.1, 0.2, 0.3}));
  preprocess.insert("std", c10::List<double>({0.4, 0.5, 0.6}));
  c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
  dict.insert("format", std::string(kCheckpointFormat));
  dict.insert("format_version", int64_t{1});
  dict.insert("model", model);
  dict.insert("optimizer", torch::zeros({0}, torch::kUInt8));
  for (const char* key : {"epoch", "step_in_epoch", "global_step", "best_epoch", "epoch_correct",
                          "epoch_seen"})
    dict.insert(key, int64_t{3});
  dict.insert("best_val_acc", 0.5);
  dict.insert("epoch_loss_sum", 1.5);
  dict.insert("config", std::string("run: {}\n"));
  dict.insert("classes", c10::List<std::string>({"x", "y"}));
  dict.insert("dataset_fingerprint", std::string("f"));
  dict.insert("model_signature", std::string("s"));
  dict.insert("preprocess", preprocess);
  const std::vector<char> bytes = torch::pickle_save(dict);
  ASSERT_NE(std::string(bytes.begin(), bytes.end()).find("build_intlist"), std::string::npos)
      << "not the tagged format this test is about";
  const Checkpoint back = parse_checkpoint(bytes, "old.pt");
  EXPECT_EQ(back.position.step_in_epoch, 3);
  EXPECT_EQ(back.position.world_size, 0);  // unknown: resumed as if by a job of this size
  EXPECT_EQ(back.preprocess->stored_width, 30);
  EXPECT_EQ(back.preprocess->stddev[2], 0.6);
  EXPECT_EQ(back.classes, (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(torch::equal(back.model.at(0).second, torch::ones({2})));
  // What nxt writes now has no TorchScript globals at all.
  Checkpoint now = back;
  const std::string path = testing::TempDir() + "/plain.pt";
  save_checkpoint(now, path);
  const std::vector<char> plain = read_file_bytes(path);
  const std::string text(plain.begin(), plain.end());
  EXPECT_EQ(text.find("torch.jit._pickle"), std::string::npos);
  EXPECT_EQ(parse_checkpoint(plain, path).preprocess->mean[1], 0.2);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace nxt
