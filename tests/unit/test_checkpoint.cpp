// Tests the checkpoint file (checkpoint/checkpoint.h, docs/checkpoint-format.md): the
// preprocessing record round trips (and is absent from older files; version 2 data's max_side
// and eval_resize too, read as 0 from files written before them), and checkpoints pickled
// with TorchScript type tags by earlier versions still load.
#include <gtest/gtest.h>

#include <filesystem>

#include "checkpoint/checkpoint.h"
#include "common/fs.h"
#include "test_support.h"

namespace nxt {
namespace {

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
  EXPECT_EQ(back.preprocess->max_side, 0);  // version 1 data
  EXPECT_EQ(back.preprocess->eval_resize, 0);
  EXPECT_EQ(back.preprocess->layout(), StoredLayout::kFixedSquares);
  c.preprocess.reset();  // checkpoints of older nxt versions
  save_checkpoint(c, path);
  EXPECT_FALSE(load_checkpoint(path).preprocess.has_value());
  std::filesystem::remove(path);
}

// Format version 2 data: max_side and eval_resize (Resize(eval_resize) + CenterCrop(input_size))
// round trip and select the aspect-kept pipeline; an eval_resize below the crop is refused,
// naming the file.
TEST(Checkpoint, VersionTwoPreprocessingRoundTrips) {
  Checkpoint c;
  c.model = {{"w", torch::ones({2})}};
  c.classes = {"x", "y"};
  c.preprocess = Preprocess{64, 64, "fit", 32, 0.875, {0.1, 0.2, 0.3}, {0.4, 0.5, 0.6}, 32, 64, 37};
  const std::string path = testing::TempDir() + "/preprocess_v2.pt";
  save_checkpoint(c, path);
  const Preprocess back = load_checkpoint(path).preprocess.value();
  EXPECT_EQ(back.max_side, 64);
  EXPECT_EQ(back.eval_resize, 37);
  EXPECT_EQ(back.input_size, 32);
  EXPECT_EQ(back.resize_mode, "fit");
  EXPECT_EQ(back.layout(), StoredLayout::kAspectKept);
  c.preprocess->eval_resize = 31;  // smaller than the 32 px crop
  save_checkpoint(c, path);
  const std::string what = testing_support::error_of([&] { load_checkpoint(path); });
  EXPECT_NE(what.find(path), std::string::npos) << what;
  EXPECT_NE(what.find("eval_resize 31 (the shorter side"), std::string::npos) << what;
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
  for (const char* key :
       {"epoch", "step_in_epoch", "global_step", "best_epoch", "epoch_correct", "epoch_seen"})
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
  EXPECT_EQ(back.position.world_size, 0);      // unknown: resumed as if by a job of this size
  EXPECT_EQ(back.position.sequence_nodes, 0);  // before data.shard_by: shard_by rank's
  EXPECT_EQ(back.position.sequence_ranks_per_node, 0);
  EXPECT_EQ(back.preprocess->stored_width, 30);
  EXPECT_EQ(back.preprocess->stddev[2], 0.6);
  EXPECT_EQ(back.preprocess->max_side, 0);  // before version 2: the fixed-square pipeline
  EXPECT_EQ(back.preprocess->eval_resize, 0);
  EXPECT_EQ(back.preprocess->layout(), StoredLayout::kFixedSquares);
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
