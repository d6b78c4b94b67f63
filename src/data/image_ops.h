// Deterministic photometric and geometric image operations on uint8 HWC RGB, in place, that
// reproduce torchvision.transforms.functional's tensor backend (the arithmetic of its uint8
// path: float32 blends clamped to [0, 255] and truncated, its grayscale weights, its nearest
// sampling), so that augmentation policies built on them (data/trivial_augment.h, the colour
// jitter of data/augment.h) match torchvision's reference training recipes.
#pragma once
#include <cstdint>

#include "data/augment.h"

namespace nxt {

// torchvision's rgb_to_grayscale on one uint8 pixel: 0.2989 R + 0.587 G + 0.114 B in float32,
// truncated.
uint8_t grayscale_of(uint8_t r, uint8_t g, uint8_t b);

// adjust_brightness: blend with black by `factor` (>= 0).
void adjust_brightness(uint8_t* image, ImageShape shape, double factor);
// adjust_contrast: blend with the mean of the grayscale image by `factor` (>= 0).
void adjust_contrast(uint8_t* image, ImageShape shape, double factor);
// adjust_saturation: blend with the pixel's own grayscale by `factor` (>= 0).
void adjust_saturation(uint8_t* image, ImageShape shape, double factor);
// adjust_sharpness: blend with the image smoothed by the 3x3 kernel [1 1 1; 1 5 1; 1 1 1] / 13
// (border pixels unsmoothed) by `factor` (>= 0).
void adjust_sharpness(uint8_t* image, ImageShape shape, double factor);
// posterize: keep the `bits` (0..8) high bits of every channel value.
void posterize(uint8_t* image, ImageShape shape, int bits);
// solarize: invert every channel value >= `threshold`.
void solarize(uint8_t* image, ImageShape shape, double threshold);
// autocontrast: stretch each channel linearly so its minimum becomes 0 and its maximum 255.
void autocontrast(uint8_t* image, ImageShape shape);
// equalize: equalise each channel's histogram (PIL's ImageOps.equalize rule).
void equalize(uint8_t* image, ImageShape shape);

// F.affine's parameters at scale 1: angle and shears in degrees (clockwise angle, as F.affine),
// translation in pixels. The pivot is the image centre, or its top-left corner when
// `pivot_at_top_left` (TrivialAugmentWide's shears pass center=[0, 0]).
struct AffineParams {
  double angle = 0;
  double translate_x = 0, translate_y = 0;
  double shear_x = 0, shear_y = 0;
  bool pivot_at_top_left = false;
};
// F.affine (and F.rotate, which is F.affine with the opposite angle) with nearest sampling and
// zero fill, through OpenCV's warpAffine on torchvision's inverse matrix.
void affine(uint8_t* image, ImageShape shape, const AffineParams& params);

}  // namespace nxt
