// Implements JPEG encode and DCT-scaled decode on per-thread TurboJPEG handles.
#include "data/jpeg.h"

#include <turbojpeg.h>

#include <memory>

#include "common/check.h"

namespace nxt {
namespace {

struct HandleCloser {
  void operator()(void* handle) const { tjDestroy(handle); }
};
using TjHandle = std::unique_ptr<void, HandleCloser>;

tjhandle thread_decoder() {
  thread_local TjHandle handle(tjInitDecompress());
  NXT_CHECK(handle != nullptr, "TurboJPEG: cannot create a decompressor");
  return handle.get();
}

tjhandle thread_encoder() {
  thread_local TjHandle handle(tjInitCompress());
  NXT_CHECK(handle != nullptr, "TurboJPEG: cannot create a compressor");
  return handle.get();
}

int scaled(int side, int denominator) {
  return (side + denominator - 1) / denominator;  // TJSCALED: libjpeg-turbo rounds up
}

}  // namespace

JpegHeader jpeg_header(const uint8_t* bytes, size_t size, const std::string& what) {
  tjhandle handle = thread_decoder();
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(handle, bytes, static_cast<unsigned long>(size), &width, &height,
                          &subsampling, &colorspace) != 0)
    throw Error(what + ": not a readable JPEG (" + tjGetErrorStr2(handle) + ")");
  return {height, width};
}

int jpeg_scale_for(int height, int width, int min_height, int min_width) {
  for (int denominator : {8, 4, 2})
    if (scaled(height, denominator) >= min_height && scaled(width, denominator) >= min_width)
      return denominator;
  return 1;
}

JpegHeader decode_jpeg(const uint8_t* bytes, size_t size, int denominator,
                       std::vector<uint8_t>& pixels, const std::string& what) {
  NXT_CHECK(denominator == 1 || denominator == 2 || denominator == 4 || denominator == 8,
            "JPEG scale denominator must be 1, 2, 4 or 8, got ", denominator);
  const JpegHeader full = jpeg_header(bytes, size, what);
  const JpegHeader out{scaled(full.height, denominator), scaled(full.width, denominator)};
  pixels.resize(static_cast<size_t>(out.height) * static_cast<size_t>(out.width) * 3);
  tjhandle handle = thread_decoder();
  // Width and height pick TurboJPEG's scaling factor: the one giving exactly these sides.
  if (tjDecompress2(handle, bytes, static_cast<unsigned long>(size), pixels.data(), out.width, 0,
                    out.height, TJPF_RGB, 0) != 0 &&
      tjGetErrorCode(handle) == TJERR_FATAL)
    throw Error(what + ": corrupt JPEG (" + tjGetErrorStr2(handle) + ")");
  return out;
}

std::vector<uint8_t> encode_jpeg(const uint8_t* rgb, int height, int width, int quality) {
  NXT_CHECK(quality >= 1 && quality <= 100, "JPEG quality must be in [1, 100], got ", quality);
  tjhandle handle = thread_encoder();
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  if (tjCompress2(handle, rgb, width, 0, height, TJPF_RGB, &buffer, &size, TJSAMP_420, quality,
                  0) != 0) {
    const std::string reason = tjGetErrorStr2(handle);
    tjFree(buffer);
    throw Error("TurboJPEG: cannot encode a " + std::to_string(width) + "x" +
                std::to_string(height) + " image: " + reason);
  }
  std::vector<uint8_t> out(buffer, buffer + size);
  tjFree(buffer);
  return out;
}

}  // namespace nxt
