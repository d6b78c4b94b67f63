// The ResNeXt family in LibTorch, as in the paper and torchvision: bottleneck blocks with a
// grouped 3x3 conv carrying the stride, identity shortcuts except where the shape changes, and
// logits out (no softmax). Parameter names equal torchvision's state_dict keys.
#pragma once
#include <torch/torch.h>

#include "model/resnext_spec.h"

namespace nxt {

// One 1x1 -> grouped 3x3 (stride) -> 1x1 bottleneck with a shortcut.
class BottleneckImpl : public torch::nn::Module {
 public:
  BottleneckImpl(int64_t in_channels, int64_t planes, int64_t width, int64_t cardinality,
                 int64_t stride);
  torch::Tensor forward(const torch::Tensor& x);

  // Multiply-adds of the block's convolutions for an input of in_h x in_w; sets the output size.
  int64_t multiply_adds(int64_t in_h, int64_t in_w, int64_t* out_h, int64_t* out_w) const;
  bool has_downsample() const { return !downsample.is_empty(); }
  torch::nn::BatchNorm2d last_norm() const { return bn3; }

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};  // 1x1 conv + BN, only where the shape changes
};
TORCH_MODULE(Bottleneck);

class ResNeXtImpl : public torch::nn::Module {
 public:
  explicit ResNeXtImpl(const ResNeXtSpec& spec);
  torch::Tensor forward(torch::Tensor x);  // logits [N, num_classes]

  // The pieces, in order, for summaries: stem, stages, then pooling + fc.
  torch::Tensor forward_stem(torch::Tensor x);
  const std::vector<torch::nn::Sequential>& stages() const { return stages_; }
  torch::Tensor forward_head(const torch::Tensor& features);

  const ResNeXtSpec& spec() const { return spec_; }
  int64_t stem_multiply_adds(int64_t in_h, int64_t in_w, int64_t* out_h, int64_t* out_w) const;
  int64_t head_multiply_adds() const;
  torch::nn::Linear classifier() const { return fc; }
  // Re-draws fc's weights with torchvision's nn.Linear init (after loading a backbone).
  void reset_classifier();

 private:
  void init_weights();

  ResNeXtSpec spec_;
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  std::vector<torch::nn::Sequential> stages_;  // registered as layer1, layer2, ...
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(ResNeXt);

// Multiply-adds of one conv applied to in_h x in_w; sets the output size.
int64_t conv_multiply_adds(const torch::nn::Conv2dImpl& conv, int64_t in_h, int64_t in_w,
                           int64_t* out_h, int64_t* out_w);

}  // namespace nxt
