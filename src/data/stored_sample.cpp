// Implements data/stored_sample.h: the crop window drawn on the stored shape, the smallest DCT
// scale that keeps the pixels the output needs, the window mapped onto the decoded pixels, one
// resize of that window (data/augment.h resize_window), then the in-place augmentation.
#include "data/stored_sample.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/check.h"
#include "data/jpeg.h"
#include "data/resolution.h"

namespace nxt {
namespace {

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

bool covers(ImageShape image, ImageShape out) {
  return image.height >= out.height && image.width >= out.width;
}

// A record's pixels, decoded at `denominator` (JPEG) or as stored (raw: a view of the stored
// bytes, no copy). Valid until `buffers` is reused.
struct Decoded {
  const uint8_t* pixels = nullptr;
  ImageShape shape;
  int denominator = 1;  // of the decode actually made: 1 for raw records
};

Decoded decode_record(const ImageReader& reader, int64_t index, const StoredImage& record,
                      int denominator, SampleBuffers& buffers) {
  if (record.encoding == format::Encoding::kRaw)  // its size checked on open (PackedDataset)
    return {reader.bytes(index, buffers.stored).data, record.shape(), 1};
  const ImageShape shape = reader.decode(index, denominator, buffers.pixels, buffers.stored);
  return {buffers.pixels.data(), shape, denominator};
}

// The DCT scale of a record's decode when its pixels must still cover `needed` at the size of
// `extent` (the stored size of the part that is used): 1 for raw records.
int denominator_for(const StoredImage& record, ImageShape extent, ImageShape needed) {
  if (record.encoding != format::Encoding::kJpeg) return 1;
  return jpeg_scale_for(static_cast<int>(extent.height), static_cast<int>(extent.width),
                        static_cast<int>(needed.height), static_cast<int>(needed.width));
}

// The interval [start, start + length) of one side scaled by `scale` to whole pixels of a side
// of `limit` pixels: each edge rounded (so each is off by at most half a pixel, and the length
// by at most one), at least one pixel, inside.
void scale_interval(int64_t start, int64_t length, double scale, int64_t limit, int64_t& out_start,
                    int64_t& out_length) {
  const int64_t first =
      std::clamp<int64_t>(std::llround(static_cast<double>(start) * scale), 0, limit - 1);
  const int64_t end = std::clamp<int64_t>(std::llround(static_cast<double>(start + length) * scale),
                                          first + 1, limit);
  out_start = first;
  out_length = end - first;
}

// Note [Crop before decode]: the window (stored coordinates) on a decode at 1/d.
CropWindow window_on_decode(CropWindow window, int denominator, ImageShape decoded) {
  if (denominator == 1) return window;
  const double scale = 1.0 / denominator;
  CropWindow mapped;
  scale_interval(window.top, window.height, scale, decoded.height, mapped.top, mapped.height);
  scale_interval(window.left, window.width, scale, decoded.width, mapped.left, mapped.width);
  return mapped;
}

// How many pixels of `geometry` one pixel of `in` spans, per side: d when `in` is a 1/d DCT
// decode of an image of that shape (libjpeg-turbo's sides: ceil(side / d); the smallest d that
// fits, so `in` == `geometry` is 1), else the plain ratio of the sides.
struct Span {
  double y = 1, x = 1;
};
Span span_of(ImageShape in, ImageShape geometry) {
  for (const int64_t d : {1, 2, 4, 8})
    if (ceil_div(geometry.height, d) == in.height && ceil_div(geometry.width, d) == in.width)
      return {static_cast<double>(d), static_cast<double>(d)};
  return {static_cast<double>(geometry.height) / static_cast<double>(in.height),
          static_cast<double>(geometry.width) / static_cast<double>(in.width)};
}

// The smallest shorter side whose Resize covers `out` (both resized sides at least out's), so
// the centre crop fits: out's side for a square output.
int64_t covering_shorter_side(ImageShape image, ImageShape out) {
  const bool width_shorter = image.width <= image.height;  // torchvision's choice of "short"
  const int64_t short_side = width_shorter ? image.width : image.height;
  const int64_t long_side = width_shorter ? image.height : image.width;
  const int64_t out_short = width_shorter ? out.width : out.height;
  const int64_t out_long = width_shorter ? out.height : out.width;
  int64_t side = std::max<int64_t>({1, out_short, out_long * short_side / long_side});
  while (!covers(resized_to_shorter_side(image, side), out)) ++side;  // at most a step or two
  return side;
}

// The Resize(shorter) + CenterCrop path shared by evaluation and training without a random
// crop: the decode at the smallest scale that still has the resized image's pixels, then
// resize_shorter_and_center_crop.
void prepare_resized_center(const ImageReader& reader, int64_t index, uint8_t* out,
                            ImageShape out_shape, int64_t resize_shorter, SampleBuffers& buffers) {
  const StoredImage record = reader.stored(index);
  const ImageShape stored = record.shape();
  const ImageShape resized = resized_to_shorter_side(stored, resize_shorter);
  const Decoded decoded =
      decode_record(reader, index, record, denominator_for(record, stored, resized), buffers);
  resize_shorter_and_center_crop(decoded.pixels, decoded.shape, stored, resize_shorter, out,
                                 out_shape, buffers.scratch);
}

}  // namespace

ImageShape resized_to_shorter_side(ImageShape in, int64_t shorter) {
  NXT_CHECK(in.height >= 1 && in.width >= 1 && shorter >= 1, "cannot resize a ", in.height, "x",
            in.width, " image to a shorter side of ", shorter);
  const bool width_shorter = in.width <= in.height;  // torchvision: short = w when w <= h
  const int64_t short_side = width_shorter ? in.width : in.height;
  const int64_t long_side = width_shorter ? in.height : in.width;
  // Python's int(shorter * long / short): an exact integer product, one correctly rounded
  // division, truncated.
  const auto new_long = static_cast<int64_t>(static_cast<double>(shorter * long_side) /
                                             static_cast<double>(short_side));
  return width_shorter ? ImageShape{new_long, shorter} : ImageShape{shorter, new_long};
}

CropWindow center_crop_window(ImageShape in, ImageShape crop) {
  NXT_CHECK(crop.height >= 1 && crop.width >= 1 && covers(in, crop), "a ", crop.height, "x",
            crop.width, " centre crop does not fit in a ", in.height, "x", in.width, " image");
  const auto start = [](int64_t image_side, int64_t crop_side) {
    return static_cast<int64_t>(round_half_even(static_cast<double>(image_side - crop_side) / 2.0));
  };
  return {start(in.height, crop.height), start(in.width, crop.width), crop.height, crop.width};
}

void resize_shorter_and_center_crop(const uint8_t* in, ImageShape in_shape, ImageShape geometry,
                                    int64_t resize_shorter, uint8_t* out, ImageShape out_shape,
                                    std::vector<uint8_t>& scratch) {
  const ImageShape resized = resized_to_shorter_side(geometry, resize_shorter);
  const CropWindow crop = center_crop_window(resized, out_shape);
  if (resized.height < in_shape.height && resized.width < in_shape.width) {
    // Shrinking: area-resize only the crop's window of `in`. Its edges, mapped back from the
    // resized image, are rounded to whole pixels of `in`: each moves by at most half a pixel
    // of `in`, under half a pixel of the output (tests/unit/test_stored_sample.cpp measures
    // the difference from resizing everything).
    const Span span = span_of(in_shape, geometry);
    const double scale_y =
        static_cast<double>(geometry.height) / static_cast<double>(resized.height) / span.y;
    const double scale_x =
        static_cast<double>(geometry.width) / static_cast<double>(resized.width) / span.x;
    CropWindow window;
    scale_interval(crop.top, crop.height, scale_y, in_shape.height, window.top, window.height);
    scale_interval(crop.left, crop.width, scale_x, in_shape.width, window.left, window.width);
    resize_window(in, in_shape, window, out, out_shape);
    return;
  }
  // Enlarging (or one side kept): a whole pixel of `in` spans several output pixels, so rounded
  // edges would shift the crop visibly; resize everything (bilinear) and copy the crop, exact.
  const uint8_t* source = in;
  if (!(resized == in_shape)) {
    scratch.resize(static_cast<size_t>(resized.bytes()));
    resize_window(in, in_shape, {0, 0, in_shape.height, in_shape.width}, scratch.data(), resized);
    source = scratch.data();
  }
  const auto row_bytes = static_cast<size_t>(crop.width * 3);
  for (int64_t y = 0; y < crop.height; ++y)
    std::memcpy(out + y * crop.width * 3, source + ((crop.top + y) * resized.width + crop.left) * 3,
                row_bytes);
}

void prepare_stored_for_training(const ImageReader& reader, int64_t index, uint8_t* out,
                                 ImageShape out_shape, const AugmentOptions& options,
                                 SplitMix64& rng, SampleBuffers& buffers) {
  switch (options.crop) {
    case CropMode::kRandomResized: {
      const StoredImage record = reader.stored(index);
      const CropWindow window = random_resized_window(record.shape(), options.min_crop_scale, rng);
      const int denominator = denominator_for(record, {window.height, window.width}, out_shape);
      const Decoded decoded = decode_record(reader, index, record, denominator, buffers);
      resize_window(decoded.pixels, decoded.shape,
                    window_on_decode(window, decoded.denominator, decoded.shape), out, out_shape);
      break;
    }
    case CropMode::kNone:
      prepare_resized_center(reader, index, out, out_shape,
                             covering_shorter_side(reader.shape(index), out_shape), buffers);
      break;
    case CropMode::kPad: {
      prepare_resized_center(reader, index, out, out_shape,
                             covering_shorter_side(reader.shape(index), out_shape), buffers);
      // pad_crop reads one buffer and writes another: the centred image moves to scratch.
      buffers.scratch.assign(out, out + out_shape.bytes());
      random_pad_crop(buffers.scratch.data(), out, out_shape, options.crop_padding, rng);
      break;
    }
  }
  augment_in_place(out, out_shape, options, rng);
}

void prepare_stored_for_eval(const ImageReader& reader, int64_t index, uint8_t* out,
                             ImageShape out_shape, int64_t resize_shorter, SampleBuffers& buffers) {
  prepare_resized_center(reader, index, out, out_shape, resize_shorter, buffers);
}

}  // namespace nxt
