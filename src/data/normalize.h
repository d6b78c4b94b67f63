// Turns a uint8 NHWC batch into the model's float NCHW input, on the model's device: moved as
// uint8 (non-blocking from pinned memory), then scaled and normalised there with either
// ImageNet's mean/std (the notebook's choice) or the dataset's own, stored by pack_hdf5. Also
// random erasing's zeroing of the normalised input (data.random_erase).
#pragma once
#include <array>
#include <string>

#include "common/torch_pch.h"

namespace nxt {

inline constexpr std::array<double, 3> kImageNetMean = {0.485, 0.456, 0.406};
inline constexpr std::array<double, 3> kImageNetStd = {0.229, 0.224, 0.225};

class Normalizer {
 public:
  Normalizer(const std::array<double, 3>& mean, const std::array<double, 3>& stddev,
             torch::Device device);

  // uint8 [B, H, W, 3] on any device -> float [B, 3, H, W] on the device, in channels-last
  // memory order (a free view of NHWC); call .contiguous() for the classic order.
  torch::Tensor operator()(const torch::Tensor& images) const;

  torch::Device device() const { return device_; }

 private:
  torch::Device device_;
  // x * scale + offset == (x / 255 - mean) / std
  std::array<float, 3> scale_values_{}, offset_values_{};
  torch::Tensor offset_, scale_;
};

// Zeroes, in place and in every channel, each sample's rectangle of `boxes` (int32 [B, 4]: top,
// left, height, width; height 0 = none; on `input`'s device) in the normalised float [B, C, H,
// W] `input` (Note [Random erasing after normalisation] in data/augment.h). One mask built from
// aranges for the whole batch: no kernel per sample, no read back to the host.
void erase_rectangles(const torch::Tensor& input, const torch::Tensor& boxes);

}  // namespace nxt
