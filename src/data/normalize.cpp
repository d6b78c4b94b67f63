// Implements the scaling: on CPU one fused, vectorisable pass from uint8 to float (torch would
// take two passes and a temporary); on a GPU the same formula as two tensor ops there.
#include "data/normalize.h"

#include <vector>

namespace nxt {
namespace {

// 16 RGB pixels = 48 floats: a whole number of pixels and of 16-float vectors, so the inner
// loop is a plain multiply-add over flat arrays.
constexpr int64_t kPatternLength = 48;

void normalize_pixels(const uint8_t* in, float* out, int64_t count, const float* scale,
                      const float* offset) {
  float scale_pattern[kPatternLength], offset_pattern[kPatternLength];
  for (int64_t j = 0; j < kPatternLength; ++j) {
    scale_pattern[j] = scale[j % 3];
    offset_pattern[j] = offset[j % 3];
  }
  int64_t i = 0;
  for (; i + kPatternLength <= count; i += kPatternLength)
    for (int64_t j = 0; j < kPatternLength; ++j)
      out[i + j] = static_cast<float>(in[i + j]) * scale_pattern[j] + offset_pattern[j];
  for (; i < count; ++i) out[i] = static_cast<float>(in[i]) * scale[i % 3] + offset[i % 3];
}

}  // namespace

Normalizer::Normalizer(const std::array<double, 3>& mean, const std::array<double, 3>& stddev,
                       torch::Device device)
    : device_(device) {
  for (int c = 0; c < 3; ++c) {
    scale_values_[c] = static_cast<float>(1.0 / (255.0 * stddev[c]));
    offset_values_[c] = static_cast<float>(-mean[c] / stddev[c]);
  }
  scale_ =
      torch::tensor(at::ArrayRef<float>(scale_values_.data(), 3)).view({1, 3, 1, 1}).to(device);
  offset_ =
      torch::tensor(at::ArrayRef<float>(offset_values_.data(), 3)).view({1, 3, 1, 1}).to(device);
}

torch::Tensor Normalizer::operator()(const torch::Tensor& images) const {
  TORCH_CHECK(images.dim() == 4 && images.size(3) == 3 && images.scalar_type() == torch::kUInt8,
              "expected a uint8 [B, H, W, 3] batch, got ", images.sizes());
  if (device_.is_cpu() && images.is_cpu()) {
    const torch::Tensor source = images.contiguous();
    torch::Tensor out = torch::empty({images.size(0), images.size(1), images.size(2), 3},
                                     torch::TensorOptions(torch::kFloat));
    normalize_pixels(source.data_ptr<uint8_t>(), out.data_ptr<float>(), source.numel(),
                     scale_values_.data(), offset_values_.data());
    return out.permute({0, 3, 1, 2});
  }
  torch::Tensor on_device = images.to(device_, /*non_blocking=*/images.is_pinned());
  return torch::addcmul(offset_, on_device.permute({0, 3, 1, 2}).to(torch::kFloat), scale_);
}

void erase_rectangles(const torch::Tensor& input, const torch::Tensor& boxes) {
  TORCH_CHECK(input.dim() == 4 && boxes.dim() == 2 && boxes.size(0) == input.size(0) &&
                  boxes.size(1) == 4 && boxes.device() == input.device(),
              "erase_rectangles: expected [B, 4] boxes on the input's device for input ",
              input.sizes(), ", got ", boxes.sizes(), " on ", boxes.device());
  const auto options = torch::TensorOptions(boxes.scalar_type()).device(input.device());
  const int64_t height = input.size(2), width = input.size(3);
  const torch::Tensor ys = torch::arange(height, options).view({1, 1, height, 1});
  const torch::Tensor xs = torch::arange(width, options).view({1, 1, 1, width});
  const auto column = [&boxes](int64_t k) { return boxes.select(1, k).view({-1, 1, 1, 1}); };
  const torch::Tensor top = column(0), left = column(1);
  const torch::Tensor rows = ys.ge(top).logical_and(ys.lt(top + column(2)));
  const torch::Tensor cols = xs.ge(left).logical_and(xs.lt(left + column(3)));
  input.masked_fill_(rows.logical_and(cols), 0);  // mask [B, 1, H, W]: every channel
}

}  // namespace nxt
