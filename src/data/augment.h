// Per-sample image preparation for the loader, on uint8 HWC RGB images: training augmentation
// (random crop, random horizontal flip, TrivialAugmentWide, colour jitter, in torchvision's
// reference order) and the deterministic evaluation path. Normalisation is not here: it runs on
// the device, on the whole batch (data/normalize.h); mixup and cutmix work on whole batches too
// (data/mix.h).
#pragma once
#include <cstdint>

#include "common/config.h"
#include "common/hash.h"

namespace nxt {

struct AugmentOptions {
  bool hflip = false;
  CropMode crop = CropMode::kNone;  // data.crop (common/config.h)
  int64_t crop_padding = 4;
  double min_crop_scale = 0.08;                   // RandomResizedCrop's smallest area fraction
  AutoAugment auto_augment = AutoAugment::kNone;  // kTrivial: data/trivial_augment.h
  double color_jitter = 0;  // brightness, contrast, saturation factors in [1-s, 1+s]; 0 = off
};

struct ImageShape {
  int64_t height = 0;
  int64_t width = 0;
  int64_t bytes() const { return height * width * 3; }
};

// A crop window inside an image.
struct CropWindow {
  int64_t top = 0, left = 0, height = 0, width = 0;
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

// RandomResizedCrop's window (scale in [min_scale, 1], aspect in [3/4, 4/3] log-uniform, ten
// tries, then a centre crop), as torchvision's get_params draws it.
CropWindow random_resized_window(ImageShape shape, double min_scale, SplitMix64& rng);

}  // namespace nxt
