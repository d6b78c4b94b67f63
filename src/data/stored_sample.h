// One sample prepared from a version 2 record (an image at its own aspect ratio, raw or JPEG):
// torchvision's RandomResizedCrop on the true aspect ratio for training, and its
// Resize(shorter side) + CenterCrop for evaluation and prediction, each decoding a JPEG at the
// smallest DCT scale (1/2, 1/4, 1/8) that still has the pixels the output needs.
//
// Note [Crop before decode]: the crop window is drawn on the stored shape (from the index),
// never on the decoded one, so the random draws and the window are the same whatever scale the
// decode takes; the window is then mapped onto the decoded pixels. A scale is taken only when
// the window's sides, divided by it, stay at least the output's: a downscale in the DCT
// averages like a resize, so no detail the output could hold is lost.
#pragma once
#include <cstdint>
#include <vector>

#include "common/hash.h"
#include "data/augment.h"
#include "data/image_reader.h"

namespace nxt {

// A thread's reusable buffers (no allocation per image once they have grown).
struct SampleBuffers {
  std::vector<uint8_t> stored, pixels, scratch;
};

// Training: RandomResizedCrop (data.crop random_resized; window from random_resized_window on
// the stored shape) or, for crop none and pad, the shorter side resized to the output and the
// centre crop, then augment_in_place (flip, TrivialAugment, colour jitter; pad's random crop
// first). Draws from `rng` exactly as augment_for_training does for the same crop mode. A raw
// record with crop random_resized gives augment_for_training's sample on its pixels bit for
// bit. For a non-square output, crop none and pad resize to the smallest shorter side whose
// image covers it.
void prepare_stored_for_training(const ImageReader& reader, int64_t index, uint8_t* out,
                                 ImageShape out_shape, const AugmentOptions& options,
                                 SplitMix64& rng, SampleBuffers& buffers);

// Evaluation: torchvision's Resize(resize_shorter) + CenterCrop(out_shape) on the stored image
// (the crop must fit in the resized image: resize_shorter >= both output sides is enough).
void prepare_stored_for_eval(const ImageReader& reader, int64_t index, uint8_t* out,
                             ImageShape out_shape, int64_t resize_shorter, SampleBuffers& buffers);

// torchvision's Resize(shorter) size rule: the shorter side becomes `shorter`, the longer
// int(shorter * long / short) (truncated, as torchvision's _compute_resized_output_size).
ImageShape resized_to_shorter_side(ImageShape in, int64_t shorter);

// torchvision's CenterCrop window: top = int(round((H - h) / 2.0)), left likewise (Python's
// round: ties to even). The crop must fit (`in` at least `crop` on both sides).
CropWindow center_crop_window(ImageShape in, ImageShape crop);

// Resize(resize_shorter) + CenterCrop(out_shape) of `in` (in_shape, HWC RGB) into `out`, the
// resize computed from `geometry` (the image's stored shape; `in` may be a DCT-reduced decode
// of it): antialiased (area) when shrinking, bilinear otherwise. Shared with nxt_predict.
// Shrinking resizes only the crop's window of `in`, its edges rounded to whole pixels of `in`
// (under half an output pixel off); otherwise the whole image is resized into `scratch` and the
// crop copied, exactly. `in` is a 1/d DCT decode of `geometry` when its sides are
// ceil(geometry / d) for d in 1, 2, 4, 8, else any resampling of it (mapped by the side ratios).
void resize_shorter_and_center_crop(const uint8_t* in, ImageShape in_shape, ImageShape geometry,
                                    int64_t resize_shorter, uint8_t* out, ImageShape out_shape,
                                    std::vector<uint8_t>& scratch);

}  // namespace nxt
