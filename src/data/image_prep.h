// Image decoding and resizing shared by the packer and nxt_predict, so that prediction sees
// exactly the pixels training saw: any supported file -> 8-bit RGB -> the stored size (format
// version 1's square, or version 2's fit of the longer side).
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

// Which side of a JPEG a reduced (DCT-scaled) decode must keep at least min_side long: the
// shorter for the square resize modes (they fill the square), the longer for the fit.
enum class KeepSide { kShorter, kLonger };

// Decodes to CV_8UC3 RGB: grayscale expanded, alpha dropped, 16-bit scaled to 8, CMYK converted,
// EXIF orientation applied. A large JPEG is decoded at 1/2, 1/4 or 1/8 scale in the DCT domain
// when its `keep` side stays >= min_side (0 = always full size). Throws nxt::Error with the
// reason for undecodable or truncated data.
cv::Mat decode_rgb8(const std::vector<unsigned char>& bytes, int min_side = 0,
                    KeepSide keep = KeepSide::kShorter);

// Resizes with area averaging when shrinking by 2x or more (antialiased), bilinear otherwise.
cv::Mat resize_image(const cv::Mat& rgb, int height, int width, ResizeMode mode);

// Reads, decodes and resizes one file; errors name the file.
cv::Mat load_image(const std::string& path, int height, int width, ResizeMode mode);

// The fit of format version 2 (pack_hdf5 --max-side): an image whose longer side exceeds
// max_side gets that side max_side and the other round(other * max_side / longer), at least 1
// (the aspect ratio kept); a smaller one keeps its size (never enlarged). max_side >= 1.
cv::Size fit_size(const cv::Size& size, int max_side);

// Resizes to fit_size (area averaging when shrinking by 2x or more, as resize_image); returns
// `rgb` itself when it already fits.
cv::Mat fit_longer_side(const cv::Mat& rgb, int max_side);

// Reads and decodes one file and fits it (fit_size of the file's full size, whatever scale the
// decode used): the pixels pack_hdf5 --max-side stores, and what nxt_predict feeds a model
// trained on such a file. A JPEG at least 2x larger than needed is decoded at a reduced DCT scale
// that keeps its longer side >= max_side. Errors name the file.
cv::Mat load_image_fit(const std::string& path, int max_side);

}  // namespace nxt
