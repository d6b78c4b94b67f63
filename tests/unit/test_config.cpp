// Tests the typed config: defaults, YAML parsing, --set overrides, the resolved YAML round trip,
// and that every kind of error names its source, line and key.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/check.h"
#include "common/config.h"
#include "common/config_schema.h"
#include "common/fs.h"
#include "test_support.h"

namespace nxt {
namespace {

using testing_support::error_of;

std::string parse_error(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  return error_of([&] { parse_config(yaml, "test.yaml", overrides); });
}

TEST(Config, DefaultsAreTheNotebooksSettings) {
  const Config config = parse_config("", "empty.yaml");
  EXPECT_EQ(config.model.arch, ModelArch::kResNeXt50_32x4d);
  EXPECT_FALSE(config.model.num_classes.has_value());
  EXPECT_EQ(config.data.batch_size, 32);
  EXPECT_EQ(config.data.image_size, 224);
  EXPECT_EQ(config.optim.name, OptimizerKind::kAdam);
  EXPECT_DOUBLE_EQ(config.optim.lr, 1e-4);
  EXPECT_EQ(config.train.epochs, 10);
}

TEST(Config, ParsesEveryKind) {
  const Config config = parse_config(R"(
run: {name: tiny, seed: 7}
data: {batch_size: 4, image_size: 32, normalize: dataset}
model:
  arch: custom
  num_classes: 5
  blocks: [1, 2]
  cardinality: 4
  stem: cifar
  zero_init_residual: true
optim: {name: sgd, lr: 0.5}
)",
                                     "t.yaml");
  EXPECT_EQ(config.run.name, "tiny");
  EXPECT_EQ(config.run.seed, 7);
  EXPECT_EQ(config.data.normalize, NormalizeStats::kDataset);
  EXPECT_EQ(config.model.arch, ModelArch::kCustom);
  EXPECT_EQ(config.model.stem, StemKind::kCifar);
  EXPECT_EQ(config.optim.name, OptimizerKind::kSgd);
  EXPECT_EQ(config.model.num_classes.value(), 5);
  EXPECT_EQ(config.model.blocks, (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(config.model.zero_init_residual);
  EXPECT_DOUBLE_EQ(config.optim.lr, 0.5);
}

TEST(Config, SetOverridesApplyInOrderAndParseYamlValues) {
  const Config config = parse_config("data: {batch_size: 4}\n", "t.yaml",
                                     {"data.batch_size=16", "model.blocks=[2, 2, 2]",
                                      "model.num_classes=auto", "data.batch_size=8"});
  EXPECT_EQ(config.data.batch_size, 8);
  EXPECT_EQ(config.model.blocks, (std::vector<int64_t>{2, 2, 2}));
  EXPECT_FALSE(config.model.num_classes.has_value());
}

TEST(Config, ResolvedYamlRoundTrips) {
  const Config config = parse_config("model: {arch: custom, blocks: [1, 1], num_classes: 3}\n",
                                     "t.yaml", {"optim.lr=0.003", "run.name=x y"});
  const std::string yaml = to_yaml(config);
  EXPECT_NE(yaml.find("blocks: [1, 1]"), std::string::npos) << yaml;
  EXPECT_EQ(to_yaml(parse_config(yaml, "resolved.yaml")), yaml);
}

// Every choice key reads each of its names into its enum and writes the same name back; a name
// it lacks is refused with the valid ones listed.
TEST(Config, EveryChoiceRoundTripsItsNamesAndListsThemWhenWrong) {
  std::vector<std::string> choice_keys;
  for (const ConfigKey& key : config_schema()) {
    if (key.choices.empty()) continue;
    choice_keys.push_back(key.name);
    const size_t dot = key.name.find('.');
    const std::string section = key.name.substr(0, dot), leaf = key.name.substr(dot + 1);
    std::string listed;
    for (const std::string& name : key.choices) {
      listed += (listed.empty() ? "" : ", ") + name;
      // (With the EMA on, which train.best_metric's *_ema choices need.)
      const std::string yaml =
          to_yaml(parse_config("", "t.yaml", {key.name + "=" + name, "train.ema_decay=0.9"}));
      EXPECT_EQ(YAML::Load(yaml)[section][leaf].as<std::string>(), name) << key.name;
      EXPECT_EQ(to_yaml(parse_config(yaml, "resolved.yaml")), yaml) << key.name << "=" << name;
    }
    const std::string wrong = key.name + "=bogus";
    const std::string refusal = key.name + ": must be one of [" + listed + "], got 'bogus'";
    EXPECT_EQ(parse_error("", {wrong}), "--set " + wrong + ": " + refusal);
  }
  // Every key whose value is one of a fixed set of names (a new one joins this list).
  const std::vector<std::string> expected = {
      "run.device",        "data.normalize",      "data.crop",         "data.shard_by",
      "data.sampler",      "data.auto_augment",   "model.arch",        "model.stem",
      "optim.name",        "optim.schedule",      "optim.scale_lr",    "train.amp",
      "train.stop_signal", "train.class_weights", "train.best_metric", "eval.mode",
      "eval.tta",          "dist.backend"};
  EXPECT_EQ(choice_keys, expected);
}

// The data keys of issue 24 that only make sense together, refused with the keys named.
TEST(Config, NodeSharesAndNodeCopyRefuseWhatCannotWork) {
  EXPECT_NE(parse_error("", {"data.shard_by=node", "data.sampler=balanced"})
                .find("data.shard_by node deals each node a fixed share"),
            std::string::npos);
  EXPECT_NE(parse_error("", {"data.cache_in_memory=true", "data.stage_dir=/local"})
                .find("data.cache_in_memory and data.stage_dir both say"),
            std::string::npos);
  EXPECT_NE(parse_error("", {"data.reshard_every_epochs=5"})
                .find("data.reshard_every_epochs re-deals the node shares"),
            std::string::npos);
  const Config ok = parse_config(
      "", "t.yaml", {"data.shard_by=node", "data.reshard_every_epochs=5", "data.stage_dir=/l"});
  EXPECT_EQ(ok.data.shard_by, ShardBy::kNode);
  EXPECT_EQ(ok.data.reshard_every_epochs, 5);
  EXPECT_EQ(ok.data.readahead_batches, 4);
}

TEST(Config, UnknownKeyNamesLineAndSuggestsNearest) {
  EXPECT_EQ(parse_error("run:\n  name: a\ndata:\n  batch_sise: 4\n"),
            "test.yaml:4: unknown key 'data.batch_sise' (did you mean 'data.batch_size'?)");
  EXPECT_EQ(parse_error("optimizer:\n  lr: 1\n"),
            "test.yaml:2: unknown key 'optimizer.lr' (did you mean 'optim.lr'?)");
}

TEST(Config, UnknownSectionScalarIsUnknownKey) {
  EXPECT_NE(parse_error("trian: 3\n").find("test.yaml:1: unknown key 'trian'"), std::string::npos);
  EXPECT_NE(parse_error("train: 3\n").find("'train' must be a section of keys"), std::string::npos);
}

TEST(Config, WrongTypeNamesLineKeyAndValue) {
  EXPECT_EQ(parse_error("data:\n  batch_size: many\n"),
            "test.yaml:2: data.batch_size: expected an integer, got 'many'");
  EXPECT_EQ(parse_error("data:\n  batch_size: 2.5\n"),
            "test.yaml:2: data.batch_size: expected an integer, got '2.5'");
  EXPECT_EQ(parse_error("model:\n  blocks: 3\n"),
            "test.yaml:2: model.blocks: expected a list of integers, got '3'");
  EXPECT_EQ(parse_error("model:\n  zero_init_residual: maybe\n"),
            "test.yaml:2: model.zero_init_residual: expected true or false, got 'maybe'");
  EXPECT_EQ(parse_error("model:\n  num_classes: lots\n"),
            "test.yaml:2: model.num_classes: expected an integer or 'auto', got 'lots'");
}

TEST(Config, OutOfRangeNamesTheBound) {
  EXPECT_EQ(parse_error("data:\n  batch_size: 0\n"),
            "test.yaml:2: data.batch_size: must be at least 1, got 0");
  EXPECT_EQ(parse_error("optim: {lr: -1}\n"),
            "test.yaml:1: optim.lr: must be greater than 0, got -1");
  EXPECT_EQ(parse_error("model: {arch: resnet50}\n"),
            "test.yaml:1: model.arch: must be one of [resnext50_32x4d, resnext101_32x8d, "
            "resnext101_64x4d, custom], got 'resnet50'");
  EXPECT_EQ(parse_error("model: {num_classes: 1}\n"),
            "test.yaml:1: model.num_classes: must be at least 2, got 1");
  EXPECT_NE(parse_error("model: {arch: custom, stem_width: 8, width_per_group: 4}\n")
                .find("model.width_per_group"),
            std::string::npos);
}

TEST(Config, SetErrorsNameTheArgument) {
  EXPECT_EQ(parse_error("", {"data.batch_size=abc"}),
            "--set data.batch_size=abc: data.batch_size: expected an integer, got 'abc'");
  EXPECT_EQ(
      parse_error("", {"data.batchsize=4"}),
      "--set data.batchsize=4: unknown key 'data.batchsize' (did you mean 'data.batch_size'?)");
  EXPECT_EQ(parse_error("", {"data.batch_size"}),
            "--set data.batch_size: expected section.key=value");
}

TEST(Config, SyntaxErrorNamesLineAndColumn) {
  EXPECT_NE(parse_error("data:\n  batch_size: [1, 2\n").find("test.yaml:"), std::string::npos);
  EXPECT_NE(parse_error("data:\n  batch_size: [1, 2\n").find("YAML syntax error"),
            std::string::npos);
}

TEST(Config, MissingFileIsNamed) {
  EXPECT_EQ(error_of([] { load_config("/nonexistent/x.yaml"); }),
            "config file '/nonexistent/x.yaml' not found (or not a regular file)");
}

// Run folders default to the cluster's scratch space; a config or --set still wins.
TEST(Config, OutDirDefaultsToNxtOutDirThenScratch) {
  const auto restore = [](const char* name, const char* value) {
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  };
  const char* out = std::getenv("NXT_OUT_DIR");
  const char* scratch = std::getenv("SCRATCH");
  const std::string saved_out = out ? out : "", saved_scratch = scratch ? scratch : "";
  unsetenv("NXT_OUT_DIR");
  unsetenv("SCRATCH");
  EXPECT_EQ(parse_config("", "test.yaml", {}).run.out_dir, "runs");
  setenv("SCRATCH", "/scratch/me", 1);
  EXPECT_EQ(parse_config("", "test.yaml", {}).run.out_dir, "/scratch/me/nxt-runs");
  setenv("NXT_OUT_DIR", "/fast/runs", 1);
  EXPECT_EQ(parse_config("", "test.yaml", {}).run.out_dir, "/fast/runs");
  EXPECT_EQ(parse_config("run: {out_dir: here}\n", "test.yaml", {}).run.out_dir, "here");
  EXPECT_EQ(parse_config("", "test.yaml", {"run.out_dir=there"}).run.out_dir, "there");
  restore("NXT_OUT_DIR", out ? saved_out.c_str() : nullptr);
  restore("SCRATCH", scratch ? saved_scratch.c_str() : nullptr);
}

TEST(Config, LoadsFromFile) {
  const auto path = std::filesystem::temp_directory_path() / "nxt_test_config.yaml";
  std::ofstream(path) << "train:\n  epochs: 3\n";
  EXPECT_EQ(load_config(path.string()).train.epochs, 3);
  std::filesystem::remove(path);
}

// Every file in configs/ (listed, so a new one is included without editing this test).
TEST(Config, EveryShippedConfigLoads) {
  std::vector<std::string> names;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(NXT_SOURCE_DIR) + "/configs"))
    if (entry.path().extension() == ".yaml") {
      names.push_back(entry.path().filename().string());
      EXPECT_NO_THROW(load_config(entry.path().string())) << entry.path();
    }
  for (const char* expected :
       {"seed.yaml", "demo.yaml", "cluster.yaml", "finetune.yaml", "imagenet.yaml"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
}

// The fine-tuning recipe as its comments and the README describe it: every value below differs
// from the default, so each shows the file's key reached its field.
TEST(Config, FinetuneYamlDecodesToTheRecipe) {
  const Config c = load_config(std::string(NXT_SOURCE_DIR) + "/configs/finetune.yaml");
  EXPECT_EQ(c.model.arch, ModelArch::kResNeXt50_32x4d);
  EXPECT_FALSE(c.model.num_classes.has_value());  // auto: from the dataset
  EXPECT_EQ(c.model.pretrained, "resnext50_32x4d.pt");
  EXPECT_EQ(c.data.crop, CropMode::kRandomResized);
  EXPECT_DOUBLE_EQ(c.data.min_crop_scale, 0.25);
  EXPECT_DOUBLE_EQ(c.data.eval_crop_ratio, 0.875);
  EXPECT_DOUBLE_EQ(c.data.color_jitter, 0.2);
  EXPECT_EQ(c.optim.name, OptimizerKind::kAdamW);
  EXPECT_DOUBLE_EQ(c.optim.lr, 1e-3);
  EXPECT_DOUBLE_EQ(c.optim.backbone_lr_mult, 0.1);
  EXPECT_DOUBLE_EQ(c.optim.weight_decay, 0.05);
  EXPECT_EQ(c.optim.schedule, ScheduleKind::kCosine);
  EXPECT_EQ(c.train.freeze_backbone_epochs, 1);
  EXPECT_DOUBLE_EQ(c.train.label_smoothing, 0.1);
  EXPECT_EQ(c.train.early_stop_patience, 4);
  EXPECT_EQ(c.train.best_metric, BestMetric::kValLoss);
}

// The ImageNet recipe as its header comment states it (torchvision's, with FFCV's progressive
// resizing and flip TTA): each value differs from the default, or is the recipe's point.
TEST(Config, ImagenetYamlDecodesToTheRecipe) {
  const Config c = load_config(std::string(NXT_SOURCE_DIR) + "/configs/imagenet.yaml");
  EXPECT_EQ(c.model.arch, ModelArch::kResNeXt50_32x4d);
  EXPECT_EQ(c.data.batch_size, 128);
  EXPECT_EQ(c.data.train_size, 160);
  EXPECT_EQ(c.data.train_size_end, 192);
  EXPECT_EQ(c.data.train_size_ramp, (std::vector<int64_t>{444, 519}));
  EXPECT_EQ(c.data.eval_size, 224);
  EXPECT_EQ(c.data.eval_resize, 232);
  EXPECT_EQ(c.data.auto_augment, AutoAugment::kTrivial);
  EXPECT_DOUBLE_EQ(c.data.mixup_alpha, 0.2);
  EXPECT_DOUBLE_EQ(c.data.cutmix_alpha, 1.0);
  EXPECT_DOUBLE_EQ(c.data.random_erase, 0.1);
  EXPECT_EQ(c.data.sampler, SamplerKind::kRepeated);
  EXPECT_EQ(c.data.repeats, 4);
  EXPECT_EQ(c.optim.name, OptimizerKind::kSgd);
  EXPECT_DOUBLE_EQ(c.optim.lr, 0.5);
  EXPECT_EQ(c.optim.scale_lr, LrScaling::kLinear);
  EXPECT_EQ(c.optim.base_batch, 1024);
  EXPECT_DOUBLE_EQ(c.optim.weight_decay, 2e-5);
  EXPECT_EQ(c.optim.schedule, ScheduleKind::kCosine);
  EXPECT_DOUBLE_EQ(c.optim.warmup_epochs, 5);
  EXPECT_EQ(c.train.epochs, 600);
  EXPECT_DOUBLE_EQ(c.train.label_smoothing, 0.1);
  EXPECT_DOUBLE_EQ(c.train.ema_decay, 0.99998);
  EXPECT_EQ(c.train.ema_every_steps, 32);
  EXPECT_EQ(c.train.best_metric, BestMetric::kValAccEma);
  EXPECT_EQ(c.eval.tta, EvalTta::kFlip);
  EXPECT_EQ(c.eval.mode, EvalMode::kSharded);
}

// docs/config.md is generated from the schema; a key added or reworded without regenerating it
// fails here, at the first line that differs.
TEST(Config, DocsConfigReferenceIsGenerated) {
  const std::string path = std::string(NXT_SOURCE_DIR) + "/docs/config.md";
  const std::string on_disk = read_file_text(path);
  const std::string rendered = config_reference_markdown();
  if (on_disk == rendered) return;
  std::istringstream disk_lines(on_disk), rendered_lines(rendered);
  std::string disk_line, rendered_line;
  int line = 0;
  bool disk_more = true, rendered_more = true;
  while (disk_more || rendered_more) {
    ++line;
    disk_more = static_cast<bool>(std::getline(disk_lines, disk_line));
    rendered_more = static_cast<bool>(std::getline(rendered_lines, rendered_line));
    if (!disk_more) disk_line = "(end of file)";
    if (!rendered_more) rendered_line = "(end of file)";
    if (disk_line != rendered_line) break;
  }
  ADD_FAILURE() << path << " is not what the config schema renders (first difference at line "
                << line << ":\n  file:     " << disk_line << "\n  rendered: " << rendered_line
                << "\n). Regenerate it: ./build/bin/nxt_ddp --keys-markdown > docs/config.md";
}

TEST(Config, DocsConfigReferenceHasEveryKey) {
  const std::string rendered = config_reference_markdown();
  for (const auto& [key, help] : config_key_help())
    EXPECT_NE(rendered.find("| `" + key + "` |"), std::string::npos) << key;
}

}  // namespace
}  // namespace nxt
