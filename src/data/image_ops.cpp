// Implements torchvision's functional image ops on uint8 HWC RGB. Value-wise ops go through
// 256-entry lookup tables built with torchvision's float32 arithmetic (so they match it bit for
// bit at a fraction of the cost); the per-pixel blends (saturation, sharpness) compute in float32
// as it does; geometric ops use OpenCV's warpAffine on torchvision's inverse affine matrix.
#include "data/image_ops.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "common/check.h"

namespace nxt {
namespace {

using Lut = std::array<uint8_t, 256>;

// torchvision's _blend(img1, img2, ratio) for one uint8 value: ratio * a + (1 - ratio) * b, each
// product and the sum rounded to float32 as torch does, clamped to [0, 255], then truncated (the
// `.to(torch.uint8)` cast). Written with plain comparisons so that loops over it vectorise.
struct Blend {
  explicit Blend(double ratio)
      : ratio(static_cast<float>(ratio)), complement(static_cast<float>(1.0 - ratio)) {}
  uint8_t operator()(float a, float b) const {
    const float product_a = ratio * a;
    const float product_b = complement * b;
    float sum = product_a + product_b;
    sum = sum > 0.0f ? sum : 0.0f;
    sum = sum < 255.0f ? sum : 255.0f;
    return static_cast<uint8_t>(static_cast<int>(sum));
  }
  float ratio, complement;
};

// image[i] = blend(image[i], other[i]) over `count` values.
void blend_values(uint8_t* image, const uint8_t* other, int64_t count, const Blend& blend) {
  for (int64_t i = 0; i < count; ++i) {
    image[i] = blend(static_cast<float>(image[i]), static_cast<float>(other[i]));
  }
}

cv::Mat wrap(uint8_t* data, ImageShape shape) {
  return cv::Mat(static_cast<int>(shape.height), static_cast<int>(shape.width), CV_8UC3, data);
}

// Through OpenCV's LUT: faster than a loop of table loads (61 vs 89 us at 224x224 here).
void apply_lut(uint8_t* image, ImageShape shape, const Lut& lut) {
  cv::Mat target = wrap(image, shape);
  cv::LUT(target, cv::Mat(1, 256, CV_8UC1, const_cast<uint8_t*>(lut.data())), target);
}

// One table per channel (R, G, B), for the per-channel ops (a plain loop: OpenCV's LUT with a
// 3-channel table measured 2.5x slower).
void apply_channel_luts(uint8_t* image, ImageShape shape, const std::array<Lut, 3>& luts) {
  const int64_t pixels = shape.height * shape.width;
  for (int64_t p = 0; p < pixels; ++p, image += 3) {
    image[0] = luts[0][image[0]];
    image[1] = luts[1][image[1]];
    image[2] = luts[2][image[2]];
  }
}

template <class ValueFn>
Lut make_lut(ValueFn value_of) {
  Lut lut{};
  for (int v = 0; v < 256; ++v) lut[static_cast<size_t>(v)] = value_of(v);
  return lut;
}

void check_factor(double factor, const char* what) {
  NXT_CHECK(factor >= 0 && std::isfinite(factor), what,
            " factor must be a finite number >= 0, got ", factor);
}

// The three float32 products of torchvision's grayscale, tabulated (same values, fewer
// conversions and multiplies per pixel).
struct GrayProducts {
  GrayProducts() {
    for (int v = 0; v < 256; ++v) {
      red[v] = 0.2989f * static_cast<float>(v);
      green[v] = 0.587f * static_cast<float>(v);
      blue[v] = 0.114f * static_cast<float>(v);
    }
  }
  uint8_t operator()(const uint8_t* pixel) const {
    return static_cast<uint8_t>(red[pixel[0]] + green[pixel[1]] + blue[pixel[2]]);
  }
  float red[256], green[256], blue[256];
};
const GrayProducts kGray;

}  // namespace

uint8_t grayscale_of(uint8_t r, uint8_t g, uint8_t b) {
  const uint8_t pixel[3] = {r, g, b};
  return kGray(pixel);
}

void adjust_brightness(uint8_t* image, ImageShape shape, double factor) {
  check_factor(factor, "brightness");
  const Blend blend(factor);
  apply_lut(image, shape, make_lut([&](int v) { return blend(static_cast<float>(v), 0.0f); }));
}

void adjust_contrast(uint8_t* image, ImageShape shape, double factor) {
  check_factor(factor, "contrast");
  // torch's float32 mean of the truncated grayscale. Its float32 sum of integers is exact while
  // below 2^24 (any image up to 66,000 pixels, e.g. 256x256), so the exact integer sum rounded
  // once gives the same mean; above that the two may differ in the last bit.
  int64_t gray_sum = 0;
  const int64_t pixels = shape.height * shape.width;
  for (int64_t p = 0; p < pixels; ++p) {
    gray_sum += kGray(image + 3 * p);
  }
  const float mean = static_cast<float>(gray_sum) / static_cast<float>(pixels);
  const Blend blend(factor);
  apply_lut(image, shape, make_lut([&](int v) { return blend(static_cast<float>(v), mean); }));
}

void adjust_saturation(uint8_t* image, ImageShape shape, double factor) {
  check_factor(factor, "saturation");
  const Blend blend(factor);
  // Each pixel's grayscale repeated for its three channels, then one contiguous blend (which
  // vectorises; a per-pixel loop does not).
  thread_local std::vector<uint8_t> gray;
  gray.resize(static_cast<size_t>(shape.bytes()));
  uint8_t* gray_values = gray.data();  // a local pointer: the stores cannot move the vector's
  for (int64_t i = 0; i < shape.bytes(); i += 3) {
    gray_values[i] = gray_values[i + 1] = gray_values[i + 2] = kGray(image + i);
  }
  blend_values(image, gray_values, shape.bytes(), blend);
}

void adjust_sharpness(uint8_t* image, ImageShape shape, double factor) {
  check_factor(factor, "sharpness");
  const int64_t height = shape.height, width = shape.width;
  if (height <= 2 || width <= 2) return;  // torchvision leaves such images as they are
  // The smoothed image, rounded to uint8 (torchvision rounds the float32 convolution; k / 13 is
  // never within float error of a .5 tie, so integer rounding (k + 6) / 13 gives the same
  // values). Border pixels are kept, so they blend with themselves, as in torchvision.
  thread_local std::vector<uint8_t> smoothed;
  smoothed.assign(image, image + shape.bytes());
  const int64_t row = 3 * width;
  for (int64_t y = 1; y + 1 < height; ++y) {
    const uint8_t* above = image + (y - 1) * row;
    const uint8_t* centre = image + y * row;
    const uint8_t* below = image + (y + 1) * row;
    uint8_t* out = smoothed.data() + y * row;
    for (int64_t i = 3; i < row - 3; ++i) {
      const uint16_t neighbours = uint16_t(above[i - 3] + above[i] + above[i + 3] + centre[i - 3] +
                                           centre[i + 3] + below[i - 3] + below[i] + below[i + 3]);
      const uint16_t weighted = uint16_t(neighbours + 5 * centre[i]);
      out[i] = static_cast<uint8_t>((weighted + 6) / 13);
    }
  }
  blend_values(image, smoothed.data(), shape.bytes(), Blend(factor));
}

void posterize(uint8_t* image, ImageShape shape, int bits) {
  NXT_CHECK(bits >= 0 && bits <= 8, "posterize keeps 0 to 8 bits, got ", bits);
  const auto mask = static_cast<uint8_t>(0xFF << (8 - bits));
  apply_lut(image, shape, make_lut([&](int v) { return static_cast<uint8_t>(v & mask); }));
}

void solarize(uint8_t* image, ImageShape shape, double threshold) {
  NXT_CHECK(threshold >= 0 && threshold <= 255, "solarize threshold must be in [0, 255], got ",
            threshold);
  const auto bound = static_cast<float>(threshold);  // torch compares in float32
  apply_lut(image, shape, make_lut([&](int v) {
              return static_cast<uint8_t>(static_cast<float>(v) >= bound ? 255 - v : v);
            }));
}

void autocontrast(uint8_t* image, ImageShape shape) {
  std::array<uint8_t, 3> low = {255, 255, 255}, high = {0, 0, 0};
  const int64_t pixels = shape.height * shape.width;
  for (int64_t p = 0; p < pixels; ++p) {
    for (int c = 0; c < 3; ++c) {
      low[c] = std::min(low[c], image[3 * p + c]);
      high[c] = std::max(high[c], image[3 * p + c]);
    }
  }
  std::array<Lut, 3> luts;
  for (size_t c = 0; c < 3; ++c) {
    // A flat channel (infinite scale in torchvision) is left as it is: minimum 0, scale 1.
    const bool flat = low[c] == high[c];
    const float minimum = flat ? 0.0f : static_cast<float>(low[c]);
    const float scale = flat ? 1.0f : 255.0f / (static_cast<float>(high[c]) - minimum);
    luts[c] = make_lut([&](int v) {
      const float stretched = (static_cast<float>(v) - minimum) * scale;
      return static_cast<uint8_t>(std::clamp(stretched, 0.0f, 255.0f));
    });
  }
  apply_channel_luts(image, shape, luts);
}

void equalize(uint8_t* image, ImageShape shape) {
  std::array<std::array<int64_t, 256>, 3> histograms{};
  const int64_t pixels = shape.height * shape.width;
  for (int64_t p = 0; p < pixels; ++p) {
    for (int c = 0; c < 3; ++c) ++histograms[c][image[3 * p + c]];
  }
  std::array<Lut, 3> luts;
  for (size_t c = 0; c < 3; ++c) {
    const auto& histogram = histograms[c];
    // torchvision's _scale_channel: the step is the count of all but the highest value present,
    // over 255; a zero step (almost flat channel) keeps the channel.
    int64_t highest_count = 0;
    for (int v = 255; v >= 0 && highest_count == 0; --v) highest_count = histogram[size_t(v)];
    const int64_t step = (pixels - highest_count) / 255;
    if (step == 0) {
      luts[c] = make_lut([](int v) { return static_cast<uint8_t>(v); });
      continue;
    }
    // lut[v] = (count of values below v + step / 2) / step, clamped.
    int64_t below = 0;
    for (size_t v = 0; v < 256; ++v) {
      luts[c][v] = static_cast<uint8_t>(std::min<int64_t>((below + step / 2) / step, 255));
      below += histogram[v];
    }
  }
  apply_channel_luts(image, shape, luts);
}

void affine(uint8_t* image, ImageShape shape, const AffineParams& params) {
  const double width = static_cast<double>(shape.width), height = static_cast<double>(shape.height);
  // torchvision's _get_inverse_affine_matrix (scale 1), in coordinates centred on the image
  // centre: the output pixel at centred (x, y) reads the input at m * (x, y, 1).
  const double pivot_x = params.pivot_at_top_left ? -0.5 * width : 0.0;
  const double pivot_y = params.pivot_at_top_left ? -0.5 * height : 0.0;
  const double degree = M_PI / 180.0;
  const double rot = params.angle * degree, sx = params.shear_x * degree,
               sy = params.shear_y * degree;
  const double a = std::cos(rot - sy) / std::cos(sy);
  const double b = -std::cos(rot - sy) * std::tan(sx) / std::cos(sy) - std::sin(rot);
  const double c = std::sin(rot - sy) / std::cos(sy);
  const double d = -std::sin(rot - sy) * std::tan(sx) / std::cos(sy) + std::cos(rot);
  double m[6] = {d, -b, 0.0, -c, a, 0.0};
  m[2] += m[0] * (-pivot_x - params.translate_x) + m[1] * (-pivot_y - params.translate_y);
  m[5] += m[3] * (-pivot_x - params.translate_x) + m[4] * (-pivot_y - params.translate_y);
  m[2] += pivot_x;
  m[5] += pivot_y;
  // grid_sample (align_corners=False) puts pixel centres at centred coordinate + (size - 1) / 2;
  // OpenCV's inverse map works on pixel indices: source = A * target + t, with the same A.
  const double centre_x = (width - 1) / 2, centre_y = (height - 1) / 2;
  const cv::Matx23d to_source(m[0], m[1], m[2] + centre_x - m[0] * centre_x - m[1] * centre_y, m[3],
                              m[4], m[5] + centre_y - m[3] * centre_x - m[4] * centre_y);
  thread_local std::vector<uint8_t> source_copy;
  source_copy.assign(image, image + shape.bytes());
  cv::Mat target = wrap(image, shape);
  cv::warpAffine(wrap(source_copy.data(), shape), target, cv::Mat(to_source), target.size(),
                 cv::INTER_NEAREST | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT, cv::Scalar::all(0));
}

}  // namespace nxt
