// Implements the crops, flip and resizes with OpenCV on borrowed buffers (no per-image
// allocation on the common paths), and chains the photometric stages (data/image_ops.h,
// data/trivial_augment.h) after them.
#include "data/augment.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "common/check.h"
#include "data/image_ops.h"
#include "data/resolution.h"
#include "data/trivial_augment.h"

namespace nxt {
namespace {

cv::Mat wrap(const uint8_t* data, ImageShape shape) {
  return cv::Mat(static_cast<int>(shape.height), static_cast<int>(shape.width), CV_8UC3,
                 const_cast<uint8_t*>(data));
}

// Resizes `from` into `to` (already sized): area averaging when shrinking (no aliasing),
// bilinear otherwise; a plain copy when the sizes match.
void resize_into(const cv::Mat& from, cv::Mat& to) {
  if (from.size() == to.size()) {
    from.copyTo(to);
    return;
  }
  const bool shrinking = to.cols < from.cols && to.rows < from.rows;
  cv::resize(from, to, to.size(), 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
}

// Zero-padded random window of the image's own size, written to `out` (same shape as `in`).
void pad_crop(const cv::Mat& in, int64_t padding, cv::Mat& out, SplitMix64& rng) {
  const int dy = static_cast<int>(rng.below(2 * padding + 1)) - static_cast<int>(padding);
  const int dx = static_cast<int>(rng.below(2 * padding + 1)) - static_cast<int>(padding);
  out.setTo(cv::Scalar::all(0));
  // out(y, x) = in(y + dy, x + dx) where that lies inside `in`.
  const cv::Rect source = cv::Rect(dx, dy, in.cols, in.rows) & cv::Rect(0, 0, in.cols, in.rows);
  if (source.empty()) return;
  in(source).copyTo(out(cv::Rect(source.x - dx, source.y - dy, source.width, source.height)));
}

}  // namespace

CropWindow random_resized_window(ImageShape shape, double min_scale, SplitMix64& rng) {
  const double area = static_cast<double>(shape.height * shape.width);
  const double log_low = std::log(3.0 / 4.0), log_high = std::log(4.0 / 3.0);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * (min_scale + (1.0 - min_scale) * rng.uniform());
    const double aspect = std::exp(log_low + (log_high - log_low) * rng.uniform());
    const auto w = static_cast<int64_t>(std::lround(std::sqrt(target * aspect)));
    const auto h = static_cast<int64_t>(std::lround(std::sqrt(target / aspect)));
    if (w > 0 && h > 0 && w <= shape.width && h <= shape.height) {
      const auto top = static_cast<int64_t>(rng.below(static_cast<uint64_t>(shape.height - h + 1)));
      const auto left = static_cast<int64_t>(rng.below(static_cast<uint64_t>(shape.width - w + 1)));
      return {top, left, h, w};
    }
  }
  // Fallback: the whole image, cut to the nearest allowed aspect ratio, centred.
  const double ratio = static_cast<double>(shape.width) / static_cast<double>(shape.height);
  int64_t w = shape.width, h = shape.height;
  if (ratio < 3.0 / 4.0) h = std::lround(w / (3.0 / 4.0));
  if (ratio > 4.0 / 3.0) w = std::lround(h * (4.0 / 3.0));
  return {(shape.height - h) / 2, (shape.width - w) / 2, h, w};
}

EraseBox random_erase_box(ImageShape shape, double probability, SplitMix64& rng) {
  if (probability <= 0 || rng.uniform() >= probability) return {};
  constexpr double kMinArea = 0.02, kMaxArea = 0.33;
  const double log_low = std::log(0.3), log_high = std::log(3.3);
  const double area = static_cast<double>(shape.height * shape.width);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double erase_area = area * (kMinArea + (kMaxArea - kMinArea) * rng.uniform());
    const double aspect = std::exp(log_low + (log_high - log_low) * rng.uniform());
    const auto h = static_cast<int64_t>(round_half_even(std::sqrt(erase_area * aspect)));
    const auto w = static_cast<int64_t>(round_half_even(std::sqrt(erase_area / aspect)));
    if (!(h < shape.height && w < shape.width)) continue;
    const auto top = static_cast<int64_t>(rng.below(static_cast<uint64_t>(shape.height - h + 1)));
    const auto left = static_cast<int64_t>(rng.below(static_cast<uint64_t>(shape.width - w + 1)));
    return {static_cast<int32_t>(top), static_cast<int32_t>(left), static_cast<int32_t>(h),
            static_cast<int32_t>(w)};
  }
  return {};
}

void augment_for_training(const uint8_t* in, ImageShape in_shape, uint8_t* out,
                          ImageShape out_shape, const AugmentOptions& options, SplitMix64& rng) {
  const cv::Mat source = wrap(in, in_shape);
  cv::Mat target = wrap(out, out_shape);
  switch (options.crop) {
    case CropMode::kNone:
      resize_into(source, target);
      break;
    case CropMode::kRandomResized: {
      const CropWindow w = random_resized_window(in_shape, options.min_crop_scale, rng);
      resize_window(in, in_shape, w, out, out_shape);
      break;
    }
    case CropMode::kPad:
      if (in_shape.height == out_shape.height && in_shape.width == out_shape.width) {
        pad_crop(source, options.crop_padding, target, rng);
      } else {
        thread_local std::vector<uint8_t> padded;
        padded.resize(static_cast<size_t>(in_shape.bytes()));
        cv::Mat window = wrap(padded.data(), in_shape);
        pad_crop(source, options.crop_padding, window, rng);
        resize_into(window, target);
      }
      break;
  }
  augment_in_place(out, out_shape, options, rng);
}

void augment_in_place(uint8_t* image, ImageShape shape, const AugmentOptions& options,
                      SplitMix64& rng) {
  random_flip(image, shape, options, rng);
  if (options.auto_augment == AutoAugment::kTrivial) trivial_augment_wide(image, shape, rng);
  if (options.color_jitter > 0) color_jitter(image, shape, options.color_jitter, rng);
}

void color_jitter(uint8_t* image, ImageShape shape, double strength, SplitMix64& rng) {
  NXT_CHECK(strength >= 0 && std::isfinite(strength),
            "colour jitter strength must be a finite number >= 0, got ", strength);
  if (strength == 0) return;
  using Adjustment = void (*)(uint8_t*, ImageShape, double);
  static constexpr std::array<Adjustment, 3> adjustments = {adjust_brightness, adjust_contrast,
                                                            adjust_saturation};
  std::array<size_t, 3> order = {0, 1, 2};
  seeded_shuffle(order, rng);
  const double low = std::max(0.0, 1.0 - strength), high = 1.0 + strength;
  std::array<double, 3> factors;  // brightness, contrast, saturation, as torchvision draws them
  for (double& factor : factors) factor = low + (high - low) * rng.uniform();
  for (const size_t k : order) adjustments[k](image, shape, factors[k]);
}

void random_flip(uint8_t* image, ImageShape shape, const AugmentOptions& options, SplitMix64& rng) {
  const bool flip = rng.below(2) == 1;
  if (!options.hflip || !flip) return;
  cv::Mat target = wrap(image, shape);
  cv::flip(target, target, 1);
}

void resize_window(const uint8_t* in, ImageShape in_shape, CropWindow window, uint8_t* out,
                   ImageShape out_shape) {
  NXT_CHECK(window.top >= 0 && window.left >= 0 && window.height >= 1 && window.width >= 1 &&
                window.top + window.height <= in_shape.height &&
                window.left + window.width <= in_shape.width,
            "crop window ", window.height, "x", window.width, " at (", window.top, ", ",
            window.left, ") does not lie inside a ", in_shape.height, "x", in_shape.width,
            " image");
  cv::Mat target = wrap(out, out_shape);
  resize_into(
      wrap(in, in_shape)(cv::Rect(static_cast<int>(window.left), static_cast<int>(window.top),
                                  static_cast<int>(window.width), static_cast<int>(window.height))),
      target);
}

void random_pad_crop(const uint8_t* in, uint8_t* out, ImageShape shape, int64_t padding,
                     SplitMix64& rng) {
  cv::Mat target = wrap(out, shape);
  pad_crop(wrap(in, shape), padding, target, rng);
}

CropWindow centre_window(ImageShape shape, double crop_ratio) {
  const auto side = [crop_ratio](int64_t length) {
    return std::clamp<int64_t>(std::llround(static_cast<double>(length) * crop_ratio), 1, length);
  };
  const int64_t h = side(shape.height), w = side(shape.width);
  return {(shape.height - h) / 2, (shape.width - w) / 2, h, w};
}

void prepare_for_eval(const uint8_t* in, ImageShape in_shape, uint8_t* out, ImageShape out_shape,
                      double crop_ratio) {
  resize_window(in, in_shape, centre_window(in_shape, crop_ratio), out, out_shape);
}

}  // namespace nxt
