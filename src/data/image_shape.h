// The size of an HWC RGB uint8 image, and a window inside one: the vocabulary shared by the
// reader, the sample preparation and augmentation.
#pragma once
#include <cstdint>

namespace nxt {

struct ImageShape {
  int64_t height = 0;
  int64_t width = 0;
  int64_t bytes() const { return height * width * 3; }
  bool operator==(const ImageShape& other) const {
    return height == other.height && width == other.width;
  }
};

// A crop window inside an image.
struct CropWindow {
  int64_t top = 0, left = 0, height = 0, width = 0;
};

}  // namespace nxt
