// Tests state-dict files: the byte round trip, atomic saves, checked loading (missing,
// unexpected, mis-shaped keys), and fc re-initialisation when fine-tuning to other classes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "common/check.h"
#include "model/build.h"
#include "model/state_dict_io.h"
#include "test_support.h"

namespace nxt {
namespace {

namespace fs = std::filesystem;

ModelConfig tiny_config() {
  ModelConfig config;
  config.arch = ModelArch::kCustom;
  config.blocks = {1, 1};
  config.cardinality = 4;
  config.width_per_group = 8;
  config.stem_width = 16;
  config.stem = StemKind::kCifar;
  return config;
}

using testing_support::error_of;

class StateDictTest : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return temp_.path(name); }
  testing_support::TempDir temp_{"state_dict"};
};

TEST_F(StateDictTest, SaveLoadRoundTripIsExact) {
  torch::manual_seed(1);
  ResNeXt a = build_model(tiny_config(), 5);
  ResNeXt b = build_model(tiny_config(), 5);
  save_state_dict(state_dict_of(*a), path("a.pt"));
  copy_state_into(*b, load_state_dict(path("a.pt")), "a.pt");
  const StateDict sa = state_dict_of(*a), sb = state_dict_of(*b);
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].first, sb[i].first);
    EXPECT_TRUE(torch::equal(sa[i].second, sb[i].second)) << sa[i].first;
  }
}

TEST_F(StateDictTest, SaveReplacesAtomicallyAndLeavesNoTempFiles) {
  ResNeXt model = build_model(tiny_config(), 5);
  save_state_dict(state_dict_of(*model), path("m.pt"));
  save_state_dict(state_dict_of(*model), path("m.pt"));
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(temp_.dir()))
    names.push_back(entry.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{"m.pt"});
}

TEST_F(StateDictTest, UnwritableTargetKeepsOldFile) {
  ResNeXt model = build_model(tiny_config(), 5);
  save_state_dict(state_dict_of(*model), path("m.pt"));
  const auto before = fs::file_size(path("m.pt"));
  EXPECT_NE(error_of([&] {
              save_state_dict(state_dict_of(*model), path("missing/m.pt"));
            }).find("cannot create"),
            std::string::npos);
  EXPECT_EQ(fs::file_size(path("m.pt")), before);
}

TEST_F(StateDictTest, MismatchesAreListedByName) {
  ResNeXt model = build_model(tiny_config(), 5);
  StateDict state = state_dict_of(*model);
  state.erase(state.begin());  // drop conv1.weight
  state.emplace_back("extra.weight", torch::zeros({1}));
  for (auto& [name, tensor] : state)
    if (name == "layer1.0.conv2.weight") tensor = torch::zeros({1, 2, 3, 3});
  const std::string message = error_of([&] { copy_state_into(*model, state, "x.pt"); });
  EXPECT_NE(message.find("state dict 'x.pt' does not fit the model"), std::string::npos) << message;
  EXPECT_NE(message.find("missing keys: conv1.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("unexpected keys: extra.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("shape mismatches: layer1.0.conv2.weight"), std::string::npos) << message;
}

TEST_F(StateDictTest, PretrainedWithOtherClassCountReinitialisesFc) {
  torch::manual_seed(3);
  ResNeXt source = build_model(tiny_config(), 10);
  save_state_dict(state_dict_of(*source), path("pretrained.pt"));
  ModelConfig config = tiny_config();
  config.pretrained = path("pretrained.pt");
  ResNeXt tuned = build_model(config, 4);
  auto src = source->named_parameters(), dst = tuned->named_parameters();
  EXPECT_TRUE(torch::equal(src["layer2.0.conv2.weight"], dst["layer2.0.conv2.weight"]));
  EXPECT_EQ(dst["fc.weight"].size(0), 4);
  ResNeXt same_classes = build_model(config, 10);
  EXPECT_TRUE(torch::equal(src["fc.weight"], same_classes->named_parameters()["fc.weight"]));
}

TEST_F(StateDictTest, NotAStateDictIsAClearError) {
  std::ofstream(path("junk.pt")) << "this is not a pickle";
  const std::string message = error_of([&] { load_state_dict(path("junk.pt")); });
  EXPECT_NE(message.find("cannot read '" + path("junk.pt") + "' as a state dict"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("convert_state_dict.py"), std::string::npos) << message;
  EXPECT_NE(error_of([&] { load_state_dict(path("absent.pt")); }).find("absent.pt"),
            std::string::npos);
}

}  // namespace
}  // namespace nxt
