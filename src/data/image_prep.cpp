// Implements decoding to 8-bit RGB (with a truncation check OpenCV lacks), the resize modes and
// format version 2's fit of the longer side.
#include "data/image_prep.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/check.h"
#include "common/enum_names.h"

namespace nxt {
namespace {

bool is_jpeg(const std::vector<unsigned char>& b) {
  return b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF;
}

// libjpeg only warns on a truncated file and fills the rest with grey, so OpenCV returns an
// image. The entropy-coded data after the last start-of-scan (FF DA) cannot contain FF D9
// except as the end-of-image marker, so a complete file has an FF D9 after its last FF DA.
bool jpeg_is_complete(const std::vector<unsigned char>& b) {
  ptrdiff_t last_sos = -1, last_eoi = -1;
  for (size_t i = 0; i + 1 < b.size(); ++i) {
    if (b[i] != 0xFF) continue;
    if (b[i + 1] == 0xDA) last_sos = static_cast<ptrdiff_t>(i);
    if (b[i + 1] == 0xD9) last_eoi = static_cast<ptrdiff_t>(i);
  }
  return last_sos >= 0 && last_eoi > last_sos;
}

// Width and height from a JPEG's start-of-frame marker, or {0, 0} if none is found.
cv::Size jpeg_size(const std::vector<unsigned char>& b) {
  size_t i = 2;
  while (i + 9 < b.size() && b[i] == 0xFF) {
    const unsigned char marker = b[i + 1];
    const size_t length = (static_cast<size_t>(b[i + 2]) << 8) | b[i + 3];
    const bool start_of_frame =
        marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (start_of_frame) return cv::Size((b[i + 7] << 8) | b[i + 8], (b[i + 5] << 8) | b[i + 6]);
    i += 2 + length;
  }
  return cv::Size(0, 0);
}

// libjpeg can decode at 1/2, 1/4 or 1/8 scale in the DCT domain, several times faster than a
// full decode. The largest denominator that keeps the `keep` side at least `min_side` (libjpeg
// rounds scaled sides up, so side >= d * min_side is enough); 1 = full size.
int jpeg_denominator(const cv::Size& size, int min_side, KeepSide keep) {
  if (min_side <= 0) return 1;
  const int side = keep == KeepSide::kShorter ? std::min(size.width, size.height)
                                              : std::max(size.width, size.height);
  for (int denominator : {8, 4, 2})
    if (side >= denominator * min_side) return denominator;
  return 1;
}

int reduced_flag(int denominator) {
  switch (denominator) {
    case 8:
      return cv::IMREAD_REDUCED_COLOR_8;
    case 4:
      return cv::IMREAD_REDUCED_COLOR_4;
    case 2:
      return cv::IMREAD_REDUCED_COLOR_2;
    default:
      return 0;
  }
}

cv::Mat to_8bit(const cv::Mat& image) {
  if (image.depth() == CV_8U) return image;
  cv::Mat out;
  if (image.depth() == CV_16U) {
    image.convertTo(out, CV_8U, 255.0 / 65535.0);
  } else if (image.depth() == CV_32F || image.depth() == CV_64F) {
    image.convertTo(out, CV_8U, 255.0);  // float images are in [0, 1]; convertTo saturates
  } else {
    throw Error("unsupported pixel depth " + std::to_string(image.depth()));
  }
  return out;
}

cv::Mat to_rgb(const cv::Mat& image) {
  cv::Mat out;
  switch (image.channels()) {
    case 1:
      cv::cvtColor(image, out, cv::COLOR_GRAY2RGB);
      break;
    case 3:
      cv::cvtColor(image, out, cv::COLOR_BGR2RGB);
      break;
    case 4:
      cv::cvtColor(image, out, cv::COLOR_BGRA2RGB);
      break;  // alpha dropped
    default:
      throw Error("unsupported channel count " + std::to_string(image.channels()));
  }
  return out;
}

// Area averaging (antialiased) when shrinking by 2x or more; below that, bilinear aliases little
// and OpenCV's area path for non-integer ratios costs ~4x more.
int interpolation_for(const cv::Size& from, const cv::Size& to) {
  return (to.width * 2 <= from.width && to.height * 2 <= from.height) ? cv::INTER_AREA
                                                                      : cv::INTER_LINEAR;
}

cv::Mat resized(const cv::Mat& rgb, const cv::Size& size) {
  if (size == rgb.size()) return rgb;
  cv::Mat out;
  cv::resize(rgb, out, size, 0, 0, interpolation_for(rgb.size(), size));
  return out;
}

int scaled_length(int length, double scale) {
  return std::max(1, static_cast<int>(std::lround(length * scale)));
}

// A decoded image and the size it has at full scale (after EXIF orientation), which a reduced
// decode does not show.
struct Decoded {
  cv::Mat rgb;
  cv::Size full;
};

Decoded decode(const std::vector<unsigned char>& bytes, int min_side, KeepSide keep) {
  if (bytes.empty()) throw Error("empty file");
  int flags = cv::IMREAD_ANYCOLOR | cv::IMREAD_ANYDEPTH;
  int denominator = 1;
  cv::Size header;
  if (is_jpeg(bytes)) {
    if (!jpeg_is_complete(bytes)) throw Error("truncated JPEG (no end-of-image marker)");
    header = jpeg_size(bytes);
    denominator = jpeg_denominator(header, min_side, keep);
    if (const int reduced = reduced_flag(denominator)) flags = reduced;
  }
  cv::Mat decoded;
  try {
#if defined(NXT_HAVE_IMAGE_CODECS)
    decoded = cv::imdecode(bytes, flags);
#else
    throw Error("this nxt was built without image decoding (NXT_WITH_IMAGE_CODECS=OFF)");
#endif
  } catch (const cv::Exception& e) {
    throw Error(std::string("cannot decode: ") + e.what());
  }
  if (decoded.empty()) throw Error("not a decodable image (unknown format or corrupt data)");
  Decoded out{to_rgb(to_8bit(decoded)), decoded.size()};
  if (denominator > 1) {
    // The header's size, turned as EXIF orientation turned the pixels: whichever of the two
    // orientations has the decoded aspect ratio (a square-ish tie keeps the header's).
    const cv::Size turned(header.height, header.width);
    const auto mismatch = [&](const cv::Size& s) {
      return std::abs(static_cast<int64_t>(decoded.cols) * s.height -
                      static_cast<int64_t>(decoded.rows) * s.width);
    };
    out.full = mismatch(turned) < mismatch(header) ? turned : header;
  }
  return out;
}

std::vector<unsigned char> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error("'" + path + "': cannot open");
  std::vector<unsigned char> bytes(static_cast<size_t>(in.tellg()));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size())))
    throw Error("'" + path + "': cannot read");
  return bytes;
}

}  // namespace

const EnumNames<ResizeMode>& resize_mode_names() {
  static const EnumNames<ResizeMode> names = {
      {ResizeMode::kStretch, "stretch"}, {ResizeMode::kCrop, "crop"}, {ResizeMode::kPad, "pad"}};
  return names;
}

ResizeMode parse_resize_mode(const std::string& name) {
  return enum_from_name(name, resize_mode_names(), "resize mode");
}

std::string resize_mode_name(ResizeMode mode) {
  return name_of(mode, resize_mode_names());
}

bool has_image_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  for (const char* known :
       {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"})
    if (ext == known) return true;
  return false;
}

cv::Mat decode_rgb8(const std::vector<unsigned char>& bytes, int min_side, KeepSide keep) {
  return decode(bytes, min_side, keep).rgb;
}

cv::Mat resize_image(const cv::Mat& rgb, int height, int width, ResizeMode mode) {
  const double sx = static_cast<double>(width) / rgb.cols,
               sy = static_cast<double>(height) / rgb.rows;
  if (mode == ResizeMode::kStretch) return resized(rgb, cv::Size(width, height));
  if (mode == ResizeMode::kCrop) {
    const double s = std::max(sx, sy);
    const cv::Mat big = resized(rgb, cv::Size(std::max(width, scaled_length(rgb.cols, s)),
                                              std::max(height, scaled_length(rgb.rows, s))));
    return big(cv::Rect((big.cols - width) / 2, (big.rows - height) / 2, width, height)).clone();
  }
  const double s = std::min(sx, sy);
  const cv::Mat small = resized(rgb, cv::Size(std::min(width, scaled_length(rgb.cols, s)),
                                              std::min(height, scaled_length(rgb.rows, s))));
  cv::Mat out(height, width, CV_8UC3, cv::Scalar::all(0));
  small.copyTo(
      out(cv::Rect((width - small.cols) / 2, (height - small.rows) / 2, small.cols, small.rows)));
  return out;
}

cv::Mat load_image(const std::string& path, int height, int width, ResizeMode mode) {
  const std::vector<unsigned char> bytes = read_file(path);
  try {
    return resize_image(decode_rgb8(bytes, std::max(height, width)), height, width, mode);
  } catch (const Error& e) {
    throw Error("'" + path + "': " + e.what());
  }
}

cv::Size fit_size(const cv::Size& size, int max_side) {
  NXT_CHECK(max_side >= 1, "the longest side must be >= 1, got ", max_side);
  const int longer = std::max(size.width, size.height);
  if (longer <= max_side) return size;
  // round(other * max_side / longer), halves up, in integers: exact, so that another
  // implementation (tests/data/check_packed_h5py.py) gets the same sides.
  const auto fitted = [&](int other) {
    const int64_t twice = 2 * static_cast<int64_t>(other) * max_side + longer;
    return std::max(1, static_cast<int>(twice / (2 * static_cast<int64_t>(longer))));
  };
  // The longer side exactly max_side (a square's width counts as the longer).
  return size.width >= size.height ? cv::Size(max_side, fitted(size.height))
                                   : cv::Size(fitted(size.width), max_side);
}

cv::Mat fit_longer_side(const cv::Mat& rgb, int max_side) {
  return resized(rgb, fit_size(rgb.size(), max_side));
}

cv::Mat load_image_fit(const std::string& path, int max_side) {
  NXT_CHECK(max_side >= 1, "'", path, "': the longest side must be >= 1, got ", max_side);
  const std::vector<unsigned char> bytes = read_file(path);
  try {
    // The fit of the full-size image, so the stored shape does not depend on the decode's scale.
    const Decoded decoded = decode(bytes, max_side, KeepSide::kLonger);
    return resized(decoded.rgb, fit_size(decoded.full, max_side));
  } catch (const Error& e) {
    throw Error("'" + path + "': " + e.what());
  }
}

}  // namespace nxt
