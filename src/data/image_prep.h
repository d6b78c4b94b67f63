// Image decoding and resizing shared by the packer and nxt_predict, so that prediction sees
// exactly the pixels training saw: any supported file -> 8-bit RGB -> the stored size.
#pragma once
#include <opencv2/core.hpp>

#include <string>
#include <vector>

#include "common/enum_names.h"

namespace nxt {

enum class ResizeMode {
  kStretch,  // straight to H x W (the notebook's Resize([224, 224]))
  kCrop,     // shorter side to size, then the centre H x W
  kPad,      // longer side to size, centred on black
};

const EnumNames<ResizeMode>& resize_mode_names();  // stretch | crop | pad
ResizeMode parse_resize_mode(const std::string& name);
std::string resize_mode_name(ResizeMode mode);

// JPEG, PNG, BMP, WebP, TIFF, PPM/PGM by extension, as torchvision's ImageFolder accepts.
bool has_image_extension(const std::string& path);

// Decodes to CV_8UC3 RGB: grayscale expanded, alpha dropped, 16-bit scaled to 8, CMYK converted,
// EXIF orientation applied. A large JPEG is decoded at 1/2, 1/4 or 1/8 scale in the DCT domain
// when its shorter side stays >= min_side (0 = always full size). Throws nxt::Error with the
// reason for undecodable or truncated data.
cv::Mat decode_rgb8(const std::vector<unsigned char>& bytes, int min_side = 0);

// Resizes with area averaging when shrinking by 2x or more (antialiased), bilinear otherwise.
cv::Mat resize_image(const cv::Mat& rgb, int height, int width, ResizeMode mode);

// Reads, decodes and resizes one file; errors name the file.
cv::Mat load_image(const std::string& path, int height, int width, ResizeMode mode);

}  // namespace nxt
