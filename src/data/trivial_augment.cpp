// Implements TrivialAugmentWide's op table (torchvision's _augmentation_space and _apply_op) on
// top of data/image_ops.h.
#include "data/trivial_augment.h"

#include <array>
#include <cmath>

#include "common/check.h"
#include "data/image_ops.h"

namespace nxt {
namespace {

// One row of torchvision's _augmentation_space: the magnitude range is a float32
// linspace(first, last, 31); Posterize's bits are computed apart.
struct TrivialOpSpec {
  TrivialOp op;
  std::string name;
  bool has_magnitude;
  bool is_signed;
  float first, last;
};

const std::array<TrivialOpSpec, kTrivialOpCount>& op_table() {
  static const std::array<TrivialOpSpec, kTrivialOpCount> table = {{
      {TrivialOp::kIdentity, "Identity", false, false, 0, 0},
      {TrivialOp::kShearX, "ShearX", true, true, 0, 0.99f},
      {TrivialOp::kShearY, "ShearY", true, true, 0, 0.99f},
      {TrivialOp::kTranslateX, "TranslateX", true, true, 0, 32},
      {TrivialOp::kTranslateY, "TranslateY", true, true, 0, 32},
      {TrivialOp::kRotate, "Rotate", true, true, 0, 135},
      {TrivialOp::kBrightness, "Brightness", true, true, 0, 0.99f},
      {TrivialOp::kColor, "Color", true, true, 0, 0.99f},
      {TrivialOp::kContrast, "Contrast", true, true, 0, 0.99f},
      {TrivialOp::kSharpness, "Sharpness", true, true, 0, 0.99f},
      {TrivialOp::kPosterize, "Posterize", true, false, 8, 2},
      {TrivialOp::kSolarize, "Solarize", true, false, 255, 0},
      {TrivialOp::kAutoContrast, "AutoContrast", false, false, 0, 0},
      {TrivialOp::kEqualize, "Equalize", false, false, 0, 0},
  }};
  return table;
}

const TrivialOpSpec& spec_of(TrivialOp op) {
  const auto index = static_cast<size_t>(op);
  NXT_CHECK(index < op_table().size(), "no TrivialAugmentWide op with index ", index);
  return op_table()[index];
}

// torch.linspace(first, last, steps)[index] in float32, with ATen's formula: the first half
// counts up from `first`, the second half down from `last`.
float linspace_at(float first, float last, int steps, int index) {
  const float step = (last - first) / static_cast<float>(steps - 1);
  if (index < steps / 2) return first + step * static_cast<float>(index);
  return last - step * static_cast<float>(steps - index - 1);
}

// A translation in whole pixels, as Python's int() truncates it.
double whole_pixels(double magnitude) {
  return std::trunc(magnitude);
}

double degrees_of_arctan(double slope) {
  return std::atan(slope) * 180.0 / M_PI;
}

}  // namespace

const std::string& trivial_op_name(TrivialOp op) {
  return spec_of(op).name;
}
bool trivial_op_has_magnitude(TrivialOp op) {
  return spec_of(op).has_magnitude;
}
bool trivial_op_is_signed(TrivialOp op) {
  return spec_of(op).is_signed;
}

double trivial_magnitude(TrivialOp op, int bin, bool negative) {
  const TrivialOpSpec& spec = spec_of(op);
  NXT_CHECK(bin >= 0 && bin < kTrivialMagnitudeBins,
            "TrivialAugmentWide magnitude bin must be in [0, ", kTrivialMagnitudeBins, "), got ",
            bin);
  if (!spec.has_magnitude) return 0.0;
  double magnitude;
  if (op == TrivialOp::kPosterize) {
    // 8 - round(bin / ((bins - 1) / 6)): 8 bits down to 2, each kept for about five bins.
    const float sixth = static_cast<float>(bin) / ((kTrivialMagnitudeBins - 1) / 6.0f);
    magnitude = 8.0 - std::nearbyint(sixth);
  } else {
    magnitude = linspace_at(spec.first, spec.last, kTrivialMagnitudeBins, bin);
  }
  return negative && spec.is_signed ? -magnitude : magnitude;
}

void apply_trivial_op(uint8_t* image, ImageShape shape, TrivialOp op, int bin, bool negative) {
  const double magnitude = trivial_magnitude(op, bin, negative);
  AffineParams geometry;
  switch (op) {
    case TrivialOp::kIdentity:
      return;
    case TrivialOp::kShearX:
      geometry.shear_x = degrees_of_arctan(magnitude);
      geometry.pivot_at_top_left = true;
      return affine(image, shape, geometry);
    case TrivialOp::kShearY:
      geometry.shear_y = degrees_of_arctan(magnitude);
      geometry.pivot_at_top_left = true;
      return affine(image, shape, geometry);
    case TrivialOp::kTranslateX:
      geometry.translate_x = whole_pixels(magnitude);
      return affine(image, shape, geometry);
    case TrivialOp::kTranslateY:
      geometry.translate_y = whole_pixels(magnitude);
      return affine(image, shape, geometry);
    case TrivialOp::kRotate:
      geometry.angle = -magnitude;  // F.rotate turns counter-clockwise; F.affine clockwise
      return affine(image, shape, geometry);
    case TrivialOp::kBrightness:
      return adjust_brightness(image, shape, 1.0 + magnitude);
    case TrivialOp::kColor:
      return adjust_saturation(image, shape, 1.0 + magnitude);
    case TrivialOp::kContrast:
      return adjust_contrast(image, shape, 1.0 + magnitude);
    case TrivialOp::kSharpness:
      return adjust_sharpness(image, shape, 1.0 + magnitude);
    case TrivialOp::kPosterize:
      return posterize(image, shape, static_cast<int>(magnitude));
    case TrivialOp::kSolarize:
      return solarize(image, shape, magnitude);
    case TrivialOp::kAutoContrast:
      return autocontrast(image, shape);
    case TrivialOp::kEqualize:
      return equalize(image, shape);
  }
}

void trivial_augment_wide(uint8_t* image, ImageShape shape, SplitMix64& rng) {
  const auto op = static_cast<TrivialOp>(rng.below(kTrivialOpCount));
  const int bin =
      trivial_op_has_magnitude(op) ? static_cast<int>(rng.below(kTrivialMagnitudeBins)) : 0;
  const bool negative = trivial_op_is_signed(op) && rng.below(2) == 1;
  apply_trivial_op(image, shape, op, bin, negative);
}

}  // namespace nxt
