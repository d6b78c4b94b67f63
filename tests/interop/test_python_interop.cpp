// Tests that weights move both ways between nxt and today's Python libraries (the project venv's
// torchvision 0.29 and timm, through torch 2.15's torch.load/torch.save defaults): equal key
// sets, and the same logits for the same weights and input (max abs diff < 1e-4).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>

#include "common/fs.h"
#include "model/build.h"
#include "model/state_dict_io.h"
#include "test_support.h"

namespace nxt {
namespace {

namespace fs = std::filesystem;

constexpr ModelArch kArch = ModelArch::kResNeXt50_32x4d;
const std::string kArchName = name_of(kArch, kArchNames);  // torchvision's name too
constexpr int64_t kClasses = 10;

int run_python(const std::string& arguments) {
  const std::string command = std::string(NXT_PYTHON) + " " + NXT_SOURCE_DIR +
                              "/tests/interop/python_interop.py " + arguments;
  return std::system(command.c_str());
}

int run_converter(const std::string& in, const std::string& out) {
  const std::string command = std::string(NXT_PYTHON) + " " + NXT_SOURCE_DIR +
                              "/data_tools/convert_state_dict.py " + in + " " + out;
  return std::system(command.c_str());
}

ModelConfig named(const std::string& pretrained = "") {
  ModelConfig config;
  config.arch = kArch;
  config.pretrained = pretrained;
  return config;
}

// The Python library on the other side: "torchvision" or "timm".
class PythonLibraryInterop : public ::testing::TestWithParam<std::string> {
 protected:
  // "LIBRARY ARCH CLASSES": the arguments every call of python_interop.py starts with.
  std::string model_arguments() const {
    return GetParam() + " " + kArchName + " " + std::to_string(kClasses);
  }
  void SetUp() override { ASSERT_TRUE(fs::exists(NXT_PYTHON)) << NXT_PYTHON << " missing"; }
  std::string path(const std::string& name) const { return temp_.path(name); }
  testing_support::TempDir temp_{"interop"};
};

TEST_P(PythonLibraryInterop, NxtWeightsGiveTheSameLogitsInTheLibrary) {
  torch::manual_seed(11);
  ResNeXt model = build_model(named(), kClasses);
  {  // non-trivial BN running stats, as a trained model has
    torch::NoGradGuard no_grad;
    for (auto& item : model->named_buffers())
      if (item.key().find("running_var") != std::string::npos) item.value().uniform_(0.5, 1.5);
  }
  model->eval();
  const torch::Tensor input = torch::rand({2, 3, 64, 64});
  torch::Tensor logits;
  {
    torch::NoGradGuard no_grad;
    logits = model->forward(input);
  }
  save_state_dict(state_dict_of(*model), path("nxt.pt"));
  save_state_dict({{"input", input}, {"logits", logits}}, path("io.pt"));
  EXPECT_EQ(run_python("check " + model_arguments() + " " + path("nxt.pt") + " " + path("io.pt")),
            0);
}

TEST_P(PythonLibraryInterop, TheLibrarysWeightsGiveTheSameLogitsInNxt) {
  ASSERT_EQ(run_python("make " + model_arguments() + " " + temp_.dir().string()), 0);
  // model.state_dict() is an OrderedDict: LibTorch's unpickler refuses it with a pointer to the
  // converter, which turns it into a plain dict that loads.
  EXPECT_THROW(load_state_dict(path("state_dict.pth")), std::exception);
  ASSERT_EQ(run_converter(path("state_dict.pth"), path("converted.pt")), 0);

  const StateDict io = load_state_dict(path("io.pt"));
  ASSERT_EQ(io.size(), 2u);
  const torch::Tensor input = io[0].first == "input" ? io[0].second : io[1].second;
  const torch::Tensor expected = io[0].first == "logits" ? io[0].second : io[1].second;
  for (const char* file : {"plain.pt", "converted.pt"}) {
    ResNeXt model = build_model(named(path(file)), kClasses);
    model->eval();
    torch::NoGradGuard no_grad;
    const double diff = (model->forward(input) - expected).abs().max().item<double>();
    EXPECT_LT(diff, 1e-4) << file;
  }
}

INSTANTIATE_TEST_SUITE_P(Libraries, PythonLibraryInterop, ::testing::Values("torchvision", "timm"));

}  // namespace
}  // namespace nxt
