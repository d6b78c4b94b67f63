// TrivialAugmentWide (Müller & Hutter 2021; torchvision.transforms.TrivialAugmentWide): per
// image, one op drawn uniformly from 14, at a magnitude drawn uniformly from 31 bins of its wide
// range, negated with probability 1/2 for the signed ops. Ops and magnitudes are torchvision's,
// so a run with `data.auto_augment: trivial` trains on what the reference recipe trains on.
#pragma once
#include <cstdint>
#include <string>

#include "common/hash.h"
#include "data/augment.h"

namespace nxt {

// In torchvision's order (its _augmentation_space), which the uniform draw indexes.
enum class TrivialOp {
  kIdentity,
  kShearX,
  kShearY,
  kTranslateX,
  kTranslateY,
  kRotate,
  kBrightness,
  kColor,
  kContrast,
  kSharpness,
  kPosterize,
  kSolarize,
  kAutoContrast,
  kEqualize,
};
inline constexpr int kTrivialOpCount = 14;
inline constexpr int kTrivialMagnitudeBins = 31;

// torchvision's name of the op ("ShearX", ...).
const std::string& trivial_op_name(TrivialOp op);
// Whether the op has magnitude bins (Identity, AutoContrast and Equalize have none).
bool trivial_op_has_magnitude(TrivialOp op);
// Whether the magnitude is negated with probability 1/2.
bool trivial_op_is_signed(TrivialOp op);

// The magnitude of `op` at `bin` (0..30), as torchvision computes it (float32 linspace), negated
// when `negative` (signed ops only); 0 for ops without magnitude.
double trivial_magnitude(TrivialOp op, int bin, bool negative);

// Applies `op` at magnitude bin `bin`, negated when `negative`, to the image in place: what
// torchvision's _apply_op does with that magnitude (nearest sampling, zero fill).
void apply_trivial_op(uint8_t* image, ImageShape shape, TrivialOp op, int bin, bool negative);

// One TrivialAugmentWide step: draws the op, then its bin (ops with magnitude only), then its
// sign (signed ops only) from `rng`, and applies it.
void trivial_augment_wide(uint8_t* image, ImageShape shape, SplitMix64& rng);

}  // namespace nxt
