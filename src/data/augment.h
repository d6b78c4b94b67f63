// Per-sample image preparation for the loader, on uint8 HWC RGB images: training augmentation
// (random crop, random horizontal flip, TrivialAugmentWide, colour jitter, in torchvision's
// reference order), the draw of random erasing's rectangle, and the deterministic evaluation
// path. Normalisation is not here: it runs on the device, on the whole batch (data/normalize.h),
// and so does the erasing itself; mixup and cutmix work on whole batches too (data/mix.h).
#pragma once
#include <cstdint>

#include "common/config.h"
#include "common/hash.h"
#include "data/image_shape.h"

namespace nxt {

struct AugmentOptions {
  bool hflip = false;
  CropMode crop = CropMode::kNone;  // data.crop (common/config.h)
  int64_t crop_padding = 4;
  double min_crop_scale = 0.08;                   // RandomResizedCrop's smallest area fraction
  AutoAugment auto_augment = AutoAugment::kNone;  // kTrivial: data/trivial_augment.h
  double color_jitter = 0;  // brightness, contrast, saturation factors in [1-s, 1+s]; 0 = off
  // data.random_erase: the probability of erasing a rectangle (random_erase_box); 0 = off
  double random_erase = 0;
};

// One training sample: `in` (in_shape) to `out` (out_shape), drawing from `rng`: the crop, then
// augment_in_place on `out`.
void augment_for_training(const uint8_t* in, ImageShape in_shape, uint8_t* out,
                          ImageShape out_shape, const AugmentOptions& options, SplitMix64& rng);

// Everything after the crop, in place, in torchvision's order: random flip, TrivialAugmentWide
// (when auto_augment is kTrivial), colour jitter (when color_jitter > 0). For samples that need
// no crop or resize, so the loader reads them straight into the batch. The flip always takes
// one draw; the other stages draw only when on, so with both off the draws (and pixels) are
// those of the flip alone.
void augment_in_place(uint8_t* image, ImageShape shape, const AugmentOptions& options,
                      SplitMix64& rng);

// The flip stage alone, in place: one draw from `rng` whether or not hflip is on, so switching
// it does not shift the other draws.
void random_flip(uint8_t* image, ImageShape shape, const AugmentOptions& options, SplitMix64& rng);

// torchvision's ColorJitter(brightness=s, contrast=s, saturation=s): a random order of the three
// adjustments (drawn first), then their factors, each uniform in [max(0, 1 - s), 1 + s].
// s = 0 draws nothing and changes nothing.
void color_jitter(uint8_t* image, ImageShape shape, double strength, SplitMix64& rng);

// One evaluation sample: the centre window of `crop_ratio` of each side, resized to `out_shape`
// (a copy when nothing changes). No randomness. torchvision's reference evaluation, Resize(256)
// then CenterCrop(224), is crop_ratio 0.875 on an image stored at 256; 1 is a plain resize.
void prepare_for_eval(const uint8_t* in, ImageShape in_shape, uint8_t* out, ImageShape out_shape,
                      double crop_ratio = 1.0);

// The centre window prepare_for_eval takes: round(side * crop_ratio), at least 1 pixel.
CropWindow centre_window(ImageShape shape, double crop_ratio);

// Note [Random erasing after normalisation]: torchvision's RandomErasing(p, scale=(0.02, 0.33),
// ratio=(0.3, 3.3), value=0) runs after Normalize, so the erased pixels are 0 in the normalised
// input (the mean colour). Our normalisation runs on the device on whole batches
// (data/normalize.h), so the loader only draws each sample's rectangle, from the sample's own
// stream after every other augmentation draw (so switching it on changes no other draw), and
// carries it in the Batch; erase_rectangles() (data/normalize.h) zeroes them on the device after
// normalising, on the model's input.
struct EraseBox {
  int32_t top = 0, left = 0, height = 0, width = 0;  // height 0: nothing erased
};

// RandomErasing's draw for an image of `shape`: one uniform against `probability` (when
// probability > 0), then get_params: up to ten tries of an area fraction uniform in
// [0.02, 0.33] and an aspect (height / width) log-uniform in [0.3, 3.3], h = round(sqrt(area *
// aspect)), w = round(sqrt(area / aspect)) (Python's round: ties to even), kept when h < H and
// w < W, then top in [0, H - h], left in [0, W - w]; ten failures erase nothing. probability 0
// draws nothing.
EraseBox random_erase_box(ImageShape shape, double probability, SplitMix64& rng);

// RandomResizedCrop's window (scale in [min_scale, 1], aspect in [3/4, 4/3] log-uniform, ten
// tries, then a centre crop), as torchvision's get_params draws it.
CropWindow random_resized_window(ImageShape shape, double min_scale, SplitMix64& rng);

// The resampling of every crop here and in data/stored_sample.h: `window` of `in` (in_shape,
// HWC RGB) resized to `out` (out_shape): area averaging when shrinking both sides (no
// aliasing), bilinear otherwise, a plain copy when the sizes match.
void resize_window(const uint8_t* in, ImageShape in_shape, CropWindow window, uint8_t* out,
                   ImageShape out_shape);

// Crop pad's stage on an image already at its output size: `out` is `in` shifted by a random
// (dy, dx) in [-padding, padding]^2 (two draws: dy, then dx), zero where it falls outside.
// `in` and `out` (both `shape`) must not overlap.
void random_pad_crop(const uint8_t* in, uint8_t* out, ImageShape shape, int64_t padding,
                     SplitMix64& rng);

}  // namespace nxt
