// Tests the ResNeXt family: torchvision's parameter counts and names, shortcut placement, output
// shapes, logits (no softmax), gradient flow, init, and the summary's multiply-adds.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/resnext.h"
#include "model/summary.h"
#include "tiny_model.h"

namespace nxt {
namespace {

int64_t parameter_count(const torch::nn::Module& m) {
  return count_parameters(m);
}

using testing_support::tiny_spec;

TEST(ResNeXt, ParameterCountsMatchTorchvision) {
  const auto parameters = [](ModelArch arch, int64_t classes) {
    return parameter_count(*ResNeXt(named_resnext_spec(arch, classes)));
  };
  EXPECT_EQ(parameters(ModelArch::kResNeXt50_32x4d, 1000), 25028904);
  EXPECT_EQ(parameters(ModelArch::kResNeXt50_32x4d, 4), 22988100);
  EXPECT_EQ(parameters(ModelArch::kResNeXt101_32x8d, 1000), 88791336);
  EXPECT_EQ(parameters(ModelArch::kResNeXt101_64x4d, 1000), 83455272);
}

TEST(ResNeXt, CustomIsNotANamedVariant) {
  EXPECT_THROW(named_resnext_spec(ModelArch::kCustom, 10), std::exception);
}

TEST(ResNeXt, ProjectionShortcutOnlyWhereTheShapeChanges) {
  ResNeXt model(named_resnext_spec(ModelArch::kResNeXt50_32x4d, 10));
  std::vector<std::string> downsamples;
  for (const auto& item : model->named_parameters())
    if (item.key().find("downsample.0.weight") != std::string::npos)
      downsamples.push_back(item.key());
  EXPECT_EQ(downsamples, (std::vector<std::string>{
                             "layer1.0.downsample.0.weight", "layer2.0.downsample.0.weight",
                             "layer3.0.downsample.0.weight", "layer4.0.downsample.0.weight"}));
}

TEST(ResNeXt, NamesAreTorchvisionStateDictKeys) {
  ResNeXt model(named_resnext_spec(ModelArch::kResNeXt50_32x4d, 1000));
  std::set<std::string> names;
  for (const auto& item : model->named_parameters()) names.insert(item.key());
  for (const auto& item : model->named_buffers()) names.insert(item.key());
  EXPECT_EQ(names.size(), 320u);  // len(torchvision.models.resnext50_32x4d().state_dict())
  for (const char* key :
       {"conv1.weight", "bn1.running_var", "bn1.num_batches_tracked", "layer1.0.conv2.weight",
        "layer3.5.bn3.bias", "layer4.0.downsample.1.running_mean", "fc.weight", "fc.bias"})
    EXPECT_TRUE(names.count(key)) << key;
  // The grouped conv carries the stride and the groups.
  auto conv2 = model->named_parameters()["layer2.0.conv2.weight"];
  EXPECT_EQ(conv2.sizes(), torch::IntArrayRef({256, 8, 3, 3}));
}

TEST(ResNeXt, OutputShapesAt224And32) {
  torch::NoGradGuard no_grad;
  ResNeXt resnext50(named_resnext_spec(ModelArch::kResNeXt50_32x4d, 4));
  resnext50->eval();
  EXPECT_EQ(resnext50->forward(torch::randn({1, 3, 224, 224})).sizes(), torch::IntArrayRef({1, 4}));
  EXPECT_EQ(resnext50->forward(torch::randn({2, 3, 32, 32})).sizes(), torch::IntArrayRef({2, 4}));
  ResNeXt tiny(tiny_spec(7));
  EXPECT_EQ(tiny->forward(torch::randn({5, 3, 32, 32})).sizes(), torch::IntArrayRef({5, 7}));
}

TEST(ResNeXt, ReturnsLogitsNotProbabilities) {
  torch::manual_seed(0);
  ResNeXt model(tiny_spec(3));
  const torch::Tensor logits = model->forward(torch::randn({4, 3, 32, 32}));
  EXPECT_GT((logits.sum(1) - 1).abs().max().item<float>(), 1e-3);  // rows do not sum to 1
  EXPECT_LT(logits.min().item<float>(), 0.0f);                     // and can be negative
}

TEST(ResNeXt, GradientsReachEveryParameter) {
  torch::manual_seed(0);
  ResNeXt model(tiny_spec(3));
  model->train();
  const torch::Tensor loss = torch::nn::functional::cross_entropy(
      model->forward(torch::randn({4, 3, 32, 32})), torch::tensor({0, 1, 2, 1}));
  loss.backward();
  for (const auto& item : model->named_parameters()) {
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    EXPECT_GT(item.value().grad().abs().sum().item<float>(), 0.0f) << item.key();
  }
}

TEST(ResNeXt, TorchvisionInit) {
  torch::manual_seed(0);
  ResNeXtSpec spec = named_resnext_spec(ModelArch::kResNeXt50_32x4d, 10);
  ResNeXt model(spec);
  auto params = model->named_parameters();
  // Kaiming normal, fan_out, ReLU gain: std = sqrt(2 / (out_channels * k * k)). On the stem,
  // fan-out (64 x 7 x 7) is 21 times fan-in (3 x 7 x 7): fan-in's std would be 4.6x larger.
  const torch::Tensor w = params["conv1.weight"];  // 64 x 3 x 7 x 7
  ASSERT_EQ(w.sizes().vec(), (std::vector<int64_t>{64, 3, 7, 7}));
  const double fan_out_std = std::sqrt(2.0 / (64 * 7 * 7));
  EXPECT_NEAR(w.std().item<double>(), fan_out_std, 0.03 * fan_out_std);
  EXPECT_NEAR(w.mean().item<double>(), 0.0, 0.03 * fan_out_std);
  EXPECT_TRUE(params["layer1.0.bn3.weight"].eq(1).all().item<bool>());
  EXPECT_TRUE(params["layer1.0.bn3.bias"].eq(0).all().item<bool>());

  spec.zero_init_residual = true;
  ResNeXt zeroed(spec);
  auto zeroed_params = zeroed->named_parameters();
  EXPECT_TRUE(zeroed_params["layer2.3.bn3.weight"].eq(0).all().item<bool>());
  EXPECT_TRUE(zeroed_params["layer2.3.bn2.weight"].eq(1).all().item<bool>());
}

TEST(Summary, ResNeXt50At224) {
  ResNeXt model(named_resnext_spec(ModelArch::kResNeXt50_32x4d, 1000));
  const ModelSummary summary = summarize(model, 224);
  EXPECT_EQ(summary.total_parameters, 25028904);
  // torchvision reports 4.23 GFLOPs (multiply-adds) for resnext50_32x4d.
  EXPECT_NEAR(summary.total_multiply_adds / 1e9, 4.23, 0.01);
  ASSERT_EQ(summary.stages.size(), 6u);
  EXPECT_EQ(summary.stages[1].output_shape, (std::vector<int64_t>{1, 256, 56, 56}));
  EXPECT_EQ(summary.stages[4].output_shape, (std::vector<int64_t>{1, 2048, 7, 7}));
  int64_t stage_parameters = 0;
  for (const auto& row : summary.stages) stage_parameters += row.parameters;
  EXPECT_EQ(stage_parameters, summary.total_parameters);
  const std::string text = format_summary(summary, "resnext50_32x4d");
  EXPECT_NE(text.find("Total params: 25,028,904"), std::string::npos) << text;
}

TEST(Summary, MultiplyAddsScaleWithImageArea) {
  ResNeXt model(tiny_spec());
  const int64_t at32 = summarize(model, 32).total_multiply_adds;
  const int64_t at64 = summarize(model, 64).total_multiply_adds;
  const int64_t fc = model->head_multiply_adds();
  EXPECT_EQ(at64 - fc, 4 * (at32 - fc));
}

}  // namespace
}  // namespace nxt
