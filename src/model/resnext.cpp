// Implements the ResNeXt modules, torchvision's weight init, and multiply-add counting.
#include "model/resnext.h"

#include "common/compat.h"

namespace nxt {
namespace {

namespace nn = torch::nn;

nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel)
                        .stride(stride)
                        .padding(kernel / 2)
                        .groups(groups)
                        .bias(false));
}

int64_t conv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t padding) {
  return (in + 2 * padding - kernel) / stride + 1;
}

}  // namespace

int64_t conv_multiply_adds(const nn::Conv2dImpl& layer, int64_t in_h, int64_t in_w, int64_t* out_h,
                           int64_t* out_w) {
  const auto& o = layer.options;
  *out_h = conv_output_size(in_h, (*o.kernel_size())[0], (*o.stride())[0],
                            compat::explicit_padding(o.padding(), 0));
  *out_w = conv_output_size(in_w, (*o.kernel_size())[1], (*o.stride())[1],
                            compat::explicit_padding(o.padding(), 1));
  // Each output element of each output channel sums weight.numel()/out_channels products.
  return layer.weight.numel() * (*out_h) * (*out_w);
}

// ---- Bottleneck ---------------------------------------------------------------------------------

BottleneckImpl::BottleneckImpl(int64_t in_channels, int64_t planes, int64_t width,
                               int64_t cardinality, int64_t stride) {
  const int64_t out_channels = planes * ResNeXtSpec::kExpansion;
  conv1 = register_module("conv1", conv(in_channels, width, 1, 1));
  bn1 = register_module("bn1", nn::BatchNorm2d(width));
  conv2 = register_module("conv2", conv(width, width, 3, stride, cardinality));
  bn2 = register_module("bn2", nn::BatchNorm2d(width));
  conv3 = register_module("conv3", conv(width, out_channels, 1, 1));
  bn3 = register_module("bn3", nn::BatchNorm2d(out_channels));
  if (stride != 1 || in_channels != out_channels) {
    downsample = register_module(
        "downsample",
        nn::Sequential(conv(in_channels, out_channels, 1, stride), nn::BatchNorm2d(out_channels)));
  }
}

// Note [In-place ReLU]: every ReLU runs in place on the tensor before it, as torchvision's
// ReLU(inplace=True) does. An out-of-place ReLU allocates and writes a fresh activation for each
// of the 49 ReLUs of ResNeXt-50: on the CPU at 224px, batch 8, the profiles showed aten::clamp_min
// at 201 ms a step against the in-place clamp_min_'s 14 ms (allocations are dearer under the
// profiler), and an A/B of torchvision's model either way measured in-place 3% faster a step
// (docs/performance.md). It is safe
// because nothing saves what it overwrites for backward: BatchNorm's backward reads its input,
// not its output, the residual sum is a fresh tensor, and ReLU's own backward reads its output.
torch::Tensor BottleneckImpl::forward(const torch::Tensor& x) {
  torch::Tensor out = bn1(conv1(x)).relu_();
  out = bn2(conv2(out)).relu_();
  out = bn3(conv3(out));
  out += has_downsample() ? downsample->forward(x) : x;
  return out.relu_();
}

int64_t BottleneckImpl::multiply_adds(int64_t in_h, int64_t in_w, int64_t* out_h,
                                      int64_t* out_w) const {
  int64_t h = in_h, w = in_w;
  int64_t total = conv_multiply_adds(*conv1, h, w, &h, &w);
  total += conv_multiply_adds(*conv2, h, w, &h, &w);
  total += conv_multiply_adds(*conv3, h, w, &h, &w);
  if (has_downsample()) {
    int64_t ignored_h, ignored_w;
    total += conv_multiply_adds(*downsample->ptr(0)->as<nn::Conv2dImpl>(), in_h, in_w, &ignored_h,
                                &ignored_w);
  }
  *out_h = h;
  *out_w = w;
  return total;
}

// ---- ResNeXt ------------------------------------------------------------------------------------

ResNeXtImpl::ResNeXtImpl(const ResNeXtSpec& spec) : spec_(spec) {
  const bool imagenet_stem = spec.stem == StemKind::kImageNet;
  conv1 = register_module(
      "conv1", imagenet_stem ? conv(3, spec.stem_width, 7, 2) : conv(3, spec.stem_width, 3, 1));
  bn1 = register_module("bn1", nn::BatchNorm2d(spec.stem_width));
  int64_t in_channels = spec.stem_width;
  for (size_t stage = 0; stage < spec.blocks.size(); ++stage) {
    nn::Sequential blocks;
    for (int64_t b = 0; b < spec.blocks[stage]; ++b) {
      const int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
      blocks->push_back(Bottleneck(in_channels, spec.planes(stage), spec.bottleneck_width(stage),
                                   spec.cardinality, stride));
      in_channels = spec.planes(stage) * ResNeXtSpec::kExpansion;
    }
    stages_.push_back(register_module("layer" + std::to_string(stage + 1), blocks));
  }
  fc = register_module("fc", nn::Linear(in_channels, spec.num_classes));
  init_weights();
}

void ResNeXtImpl::init_weights() {
  torch::NoGradGuard no_grad;
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* c = module->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = module->as<nn::BatchNorm2d>()) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    }
  }
  if (spec_.zero_init_residual) {
    for (const auto& stage : stages_)
      for (const auto& block : stage->children())
        nn::init::zeros_(block->as<BottleneckImpl>()->last_norm()->weight);
  }
}

void ResNeXtImpl::reset_classifier() {
  fc->reset_parameters();
}

torch::Tensor ResNeXtImpl::forward_stem(torch::Tensor x) {
  x = bn1(conv1(x)).relu_();  // Note [In-place ReLU]
  if (spec_.stem == StemKind::kImageNet) x = torch::max_pool2d(x, 3, 2, 1);
  return x;
}

torch::Tensor ResNeXtImpl::forward_head(const torch::Tensor& features) {
  return fc(torch::adaptive_avg_pool2d(features, {1, 1}).flatten(1));
}

torch::Tensor ResNeXtImpl::forward(torch::Tensor x) {
  x = forward_stem(x);
  for (auto& stage : stages_) x = stage->forward(x);
  return forward_head(x);
}

int64_t ResNeXtImpl::stem_multiply_adds(int64_t in_h, int64_t in_w, int64_t* out_h,
                                        int64_t* out_w) const {
  const int64_t total = conv_multiply_adds(*conv1, in_h, in_w, out_h, out_w);
  if (spec_.stem == StemKind::kImageNet) {
    *out_h = conv_output_size(*out_h, 3, 2, 1);
    *out_w = conv_output_size(*out_w, 3, 2, 1);
  }
  return total;
}

int64_t ResNeXtImpl::head_multiply_adds() const {
  return fc->weight.numel();
}

}  // namespace nxt
