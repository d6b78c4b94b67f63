// JPEG records of packed files (format version 2) through libjpeg-turbo's TurboJPEG API: the
// packer encodes, the loader decodes on its threads, at a reduced DCT scale (1/2, 1/4, 1/8)
// when the pixels it needs allow, which is several times faster than a full decode and a proper
// (averaging) downscale. One TurboJPEG handle per thread, made on first use.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nxt {

struct JpegHeader {
  int height = 0, width = 0;
};

// Reads the size from a JPEG's header; throws nxt::Error (with `what` and TurboJPEG's reason)
// when the bytes are not a JPEG.
JpegHeader jpeg_header(const uint8_t* bytes, size_t size, const std::string& what);

// The scale denominator (1, 2, 4 or 8) of the smallest decode of a height x width JPEG whose
// sides are still at least min_height x min_width (libjpeg-turbo rounds scaled sides up:
// ceil(side / denominator)). 1 when even the full size is smaller.
int jpeg_scale_for(int height, int width, int min_height, int min_width);

// Decodes to HWC RGB at 1/denominator scale (1, 2, 4, 8) into `pixels` (resized to fit), and
// returns the decoded size (ceil(side / denominator) each). Throws nxt::Error naming `what`
// on corrupt data.
JpegHeader decode_jpeg(const uint8_t* bytes, size_t size, int denominator,
                       std::vector<uint8_t>& pixels, const std::string& what);

// Encodes HWC RGB pixels as a baseline JPEG, 4:2:0 chroma subsampling, at `quality` (1..100).
std::vector<uint8_t> encode_jpeg(const uint8_t* rgb, int height, int width, int quality);

}  // namespace nxt
