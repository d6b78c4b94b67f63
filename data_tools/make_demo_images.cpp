// make_demo_images: writes a deterministic ImageFolder of synthetic scenes (JPEG or PNG) for the
// demo, the tests and the benchmarks. Each class is a shape (circle, square, triangle, star,
// cross, ring) drawn with random colour, position, scale and rotation over a random gradient with
// distractor lines and pixel noise: learnable by a CNN, but not by a colour histogram.
// --photos writes JPEG "photos" of ImageNet's size distribution instead (make_photo below), for
// the format version 2 benchmarks at 100,000 images.
#include <turbojpeg.h>
#include <CLI/CLI.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "common/check.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/ordered_parallel.h"

namespace {

const std::vector<std::string> kShapes = {"circle", "square", "triangle", "star", "cross", "ring"};

cv::Scalar random_colour(nxt::SplitMix64& rng) {
  return cv::Scalar(static_cast<double>(rng.below(256)), static_cast<double>(rng.below(256)),
                    static_cast<double>(rng.below(256)));
}

std::vector<cv::Point> polygon(const std::string& shape, cv::Point2d centre, double radius,
                               double angle) {
  std::vector<double> radii;
  if (shape == "square") radii = {1, 1, 1, 1};
  if (shape == "triangle") radii = {1, 1, 1};
  if (shape == "star") radii = {1, 0.45, 1, 0.45, 1, 0.45, 1, 0.45, 1, 0.45};
  if (shape == "cross") radii = {1, 0.42, 1, 0.42, 1, 0.42, 1, 0.42};
  std::vector<cv::Point> points;
  for (size_t k = 0; k < radii.size(); ++k) {
    const double r = radius * radii[k];
    const double a = angle + 2 * M_PI * k / radii.size();
    points.emplace_back(static_cast<int>(centre.x + r * std::cos(a)),
                        static_cast<int>(centre.y + r * std::sin(a)));
  }
  return points;
}

// How hard the scenes are. The hard ones (default) vary scale widely and add distractor lines
// and noise; the easy ones (the CPU demo, which must learn in a couple of minutes) keep large
// shapes on a plain gradient.
struct Difficulty {
  double min_radius = 0.16, radius_range = 0.2;  // fractions of the image side
  int max_lines = 2;
  double noise = 12;
  bool contrasting = false;  // the shape's colour is the background's complement
};

void draw_shape(cv::Mat& image, const std::string& shape, const Difficulty& difficulty,
                const cv::Scalar& background, nxt::SplitMix64& rng) {
  const double size = image.cols;
  const double radius = size * (difficulty.min_radius + difficulty.radius_range * rng.uniform());
  const cv::Point2d centre(radius + rng.uniform() * (size - 2 * radius),
                           radius + rng.uniform() * (size - 2 * radius));
  const double angle = 2 * M_PI * rng.uniform();
  cv::Scalar colour = random_colour(rng);
  if (difficulty.contrasting) colour = cv::Scalar::all(255) - background;
  const cv::Point c(static_cast<int>(centre.x), static_cast<int>(centre.y));
  if (shape == "circle") {
    cv::circle(image, c, static_cast<int>(radius), colour, cv::FILLED, cv::LINE_AA);
  } else if (shape == "ring") {
    cv::circle(image, c, static_cast<int>(radius * 0.8), colour,
               std::max(2, static_cast<int>(radius * 0.35)), cv::LINE_AA);
  } else {
    cv::fillPoly(image, std::vector<std::vector<cv::Point>>{polygon(shape, centre, radius, angle)},
                 colour, cv::LINE_AA);
  }
}

cv::Mat make_scene(const std::string& shape, int size, const Difficulty& difficulty,
                   uint64_t seed) {
  nxt::SplitMix64 rng(seed);
  const cv::Scalar from = random_colour(rng), to = random_colour(rng);
  cv::Mat image(size, size, CV_8UC3);
  const bool horizontal = rng.below(2) == 0;
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const double t = static_cast<double>(horizontal ? x : y) / std::max(1, size - 1);
      image.at<cv::Vec3b>(y, x) =
          cv::Vec3b(cv::saturate_cast<uchar>(from[0] + t * (to[0] - from[0])),
                    cv::saturate_cast<uchar>(from[1] + t * (to[1] - from[1])),
                    cv::saturate_cast<uchar>(from[2] + t * (to[2] - from[2])));
    }
  const int lines = static_cast<int>(rng.below(static_cast<uint64_t>(difficulty.max_lines) + 1));
  for (int l = 0; l < lines; ++l) {
    const cv::Point a(static_cast<int>(rng.below(size)), static_cast<int>(rng.below(size)));
    const cv::Point b(static_cast<int>(rng.below(size)), static_cast<int>(rng.below(size)));
    cv::line(image, a, b, random_colour(rng), std::max(1, size / 48), cv::LINE_AA);
  }
  draw_shape(image, shape, difficulty, (from + to) * 0.5, rng);
  cv::Mat noise(size, size, CV_16SC3);
  cv::RNG pixel_rng(rng.next());
  pixel_rng.fill(noise, cv::RNG::NORMAL, 0, difficulty.noise);
  cv::Mat noisy;
  image.convertTo(noisy, CV_16SC3);
  noisy += noise;
  noisy.convertTo(image, CV_8UC3);
  return image;
}

// Photos (--photos): ImageNet's sizes and JPEG weight, with content a classifier can learn.
// - Size: the shorter side uniform in [200, 500]; the aspect ratio (longer / shorter) log-uniform
//   in [1, 4/3], landscape 3 times in 4: mean about 390 x 365 (width x height), as ImageNet's
//   about 400 x 350, most images 4:3 landscape.
// - Class: the object's shape (6), the texture inside it (4) and its hue band; the hue bands
//   split the colour circle as finely as the class count needs (24 classes per band).
// - Scene: a smooth background (a random 4 x 5 colour grid upsampled bicubically), two to four
//   untextured distractor shapes of any kind, the textured class object at random position,
//   scale and rotation, and Gaussian grain per channel.
// - File: JPEG q90 at 4:4:4 (encode_photo): 107 KB on average (3,000 photos, 100 classes, seed
//   0: 391 x 364), as ImageNet's ~110 KB; fitted to a 256 px longer side and re-encoded by
//   pack_hdf5 --store jpeg (q90, 4:2:0) 18 KB, as FFCV's ImageNet at 256 px (22 GB / 1.28 M =
//   17 KB). The grain sets both: most of it averages out in 4:2:0 chroma and in the downscale,
//   as a photo's fine detail does.
constexpr int kTextures = 4;  // stripes, checker, rings, dots
constexpr int kClassesPerHue = 6 * kTextures;
constexpr double kGrain = 10;  // grain sigma in grey levels: sets the file sizes above

struct PhotoClass {
  int shape = 0, texture = 0;
  double hue = 0;  // degrees
};

PhotoClass photo_class(int c, int classes) {
  const int hues = (classes + kClassesPerHue - 1) / kClassesPerHue;
  return {c % 6, (c / 6) % kTextures, 360.0 * (c / kClassesPerHue) / hues};
}

std::string photo_class_name(int c, int classes) {
  static const char* const kTextureNames[kTextures] = {"stripes", "checker", "rings", "dots"};
  const PhotoClass k = photo_class(c, classes);
  char name[64];
  std::snprintf(name, sizeof name, "%s_%s_h%03d", kShapes[k.shape].c_str(),
                kTextureNames[k.texture], static_cast<int>(std::lround(k.hue)));
  return name;
}

cv::Size photo_size(nxt::SplitMix64& rng) {
  const int shorter = 200 + static_cast<int>(rng.below(301));
  const int longer =
      static_cast<int>(std::lround(shorter * std::exp(rng.uniform() * std::log(4.0 / 3.0))));
  return rng.below(4) < 3 ? cv::Size(longer, shorter) : cv::Size(shorter, longer);
}

// A BGR colour of hue `hue` (degrees), saturation and value in [0, 1].
cv::Vec3b hsv_colour(double hue, double saturation, double value) {
  cv::Mat hsv(1, 1, CV_8UC3,
              cv::Scalar(std::fmod(hue + 360.0, 360.0) / 2, saturation * 255, value * 255));
  cv::Mat bgr;
  cv::cvtColor(hsv, bgr, cv::COLOR_HSV2BGR);
  return bgr.at<cv::Vec3b>(0, 0);
}

// The texture's value in [0, 1] at (x, y) relative to the object's centre, rotated by `angle`,
// with period `period` in pixels.
double texture_at(int texture, double x, double y, double angle, double period) {
  const double u = (x * std::cos(angle) + y * std::sin(angle)) * 2 * M_PI / period;
  const double v = (-x * std::sin(angle) + y * std::cos(angle)) * 2 * M_PI / period;
  switch (texture) {
    case 0:
      return 0.5 + 0.5 * std::sin(u);
    case 1:
      return (std::sin(u) > 0) == (std::sin(v) > 0) ? 1.0 : 0.0;
    case 2:
      return 0.5 + 0.5 * std::sin(std::sqrt(u * u + v * v));
    default:
      return std::sin(u) * std::sin(v) > 0.25 ? 1.0 : 0.0;
  }
}

cv::Mat make_photo(int c, int classes, uint64_t seed) {
  nxt::SplitMix64 rng(seed);
  const cv::Size size = photo_size(rng);
  const PhotoClass k = photo_class(c, classes);
  cv::Mat grid(4, 5, CV_8UC3);
  for (int i = 0; i < grid.rows * grid.cols; ++i)
    grid.at<cv::Vec3b>(i / grid.cols, i % grid.cols) =
        hsv_colour(360 * rng.uniform(), 0.2 + 0.5 * rng.uniform(), 0.25 + 0.7 * rng.uniform());
  cv::Mat image;
  cv::resize(grid, image, size, 0, 0, cv::INTER_CUBIC);

  const double side = std::min(size.width, size.height);
  const int distractors = 2 + static_cast<int>(rng.below(3));
  for (int d = 0; d < distractors; ++d) {
    cv::Mat layer(size, CV_8UC1, cv::Scalar(0));
    const std::string& shape = kShapes[rng.below(kShapes.size())];
    const double radius = side * (0.06 + 0.12 * rng.uniform());
    const cv::Point2d centre(rng.uniform() * size.width, rng.uniform() * size.height);
    const double angle = 2 * M_PI * rng.uniform();
    if (shape == "circle" || shape == "ring")
      cv::circle(layer, centre, static_cast<int>(radius), cv::Scalar(255), cv::FILLED, cv::LINE_AA);
    else
      cv::fillPoly(layer,
                   std::vector<std::vector<cv::Point>>{polygon(shape, centre, radius, angle)},
                   cv::Scalar(255), cv::LINE_AA);
    image.setTo(random_colour(rng), layer);
  }

  // The class object: its shape as a mask, filled with the class hue modulated by its texture.
  cv::Mat mask(size, CV_8UC1, cv::Scalar(0));
  const double radius = side * (0.2 + 0.15 * rng.uniform());
  const cv::Point2d centre(radius + rng.uniform() * (size.width - 2 * radius),
                           radius + rng.uniform() * (size.height - 2 * radius));
  const double angle = 2 * M_PI * rng.uniform();
  const std::string& shape = kShapes[k.shape];
  const cv::Point point(static_cast<int>(centre.x), static_cast<int>(centre.y));
  if (shape == "circle")
    cv::circle(mask, point, static_cast<int>(radius), cv::Scalar(255), cv::FILLED, cv::LINE_AA);
  else if (shape == "ring")
    cv::circle(mask, point, static_cast<int>(radius * 0.8), cv::Scalar(255),
               std::max(2, static_cast<int>(radius * 0.35)), cv::LINE_AA);
  else
    cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{polygon(shape, centre, radius, angle)},
                 cv::Scalar(255), cv::LINE_AA);
  const double hue = k.hue + 10 * (rng.uniform() - 0.5);
  const cv::Vec3b light = hsv_colour(hue, 0.55 + 0.3 * rng.uniform(), 0.85 + 0.15 * rng.uniform());
  const cv::Vec3b dark = hsv_colour(hue, 0.7 + 0.3 * rng.uniform(), 0.3 + 0.2 * rng.uniform());
  const double period = side * (0.04 + 0.03 * rng.uniform());
  const double texture_angle = 2 * M_PI * rng.uniform();
  const cv::Rect box = cv::boundingRect(mask);
  for (int y = box.y; y < box.y + box.height; ++y) {
    const uint8_t* m = mask.ptr<uint8_t>(y);
    cv::Vec3b* row = image.ptr<cv::Vec3b>(y);
    for (int x = box.x; x < box.x + box.width; ++x) {
      if (m[x] == 0) continue;
      const double t = texture_at(k.texture, x - centre.x, y - centre.y, texture_angle, period);
      const double alpha = m[x] / 255.0;  // antialiased edges
      for (int ch = 0; ch < 3; ++ch)
        row[x][ch] = cv::saturate_cast<uchar>((1 - alpha) * row[x][ch] +
                                              alpha * (dark[ch] + t * (light[ch] - dark[ch])));
    }
  }

  cv::Mat grain(size, CV_16SC3);
  cv::RNG(rng.next()).fill(grain, cv::RNG::NORMAL, 0, kGrain);
  cv::Mat noisy;
  image.convertTo(noisy, CV_16SC3);
  noisy += grain;
  noisy.convertTo(image, CV_8UC3);
  return image;
}

// What one written image adds to the summary line.
struct Written {
  uint64_t bytes = 0;
  int width = 0, height = 0;
};

// JPEG at 4:4:4 (chroma at full resolution, as cameras and photo sites write at high quality),
// through TurboJPEG: OpenCV 4.6's encoder has 4:2:0 only, whose files of these scenes are half
// ImageNet's weight at the same quality.
std::vector<uchar> encode_photo(const cv::Mat& bgr, int quality) {
  struct Closer {
    void operator()(void* handle) const { tjDestroy(handle); }
  };
  thread_local std::unique_ptr<void, Closer> handle(tjInitCompress());
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  if (!handle || tjCompress2(handle.get(), bgr.data, bgr.cols, 0, bgr.rows, TJPF_BGR, &buffer,
                             &size, TJSAMP_444, quality, 0) != 0) {
    tjFree(buffer);
    throw nxt::Error(std::string("TurboJPEG: cannot encode a photo: ") +
                     tjGetErrorStr2(handle.get()));
  }
  std::vector<uchar> bytes(buffer, buffer + size);
  tjFree(buffer);
  return bytes;
}

// Encodes (photos: encode_photo) and writes one image; errors name the file.
Written write_image(const cv::Mat& image, const std::string& path, const std::string& format,
                    int quality, bool photo) {
  std::vector<uchar> bytes;
  if (photo)
    bytes = encode_photo(image, quality);
  else if (!cv::imencode("." + format, image, bytes, {cv::IMWRITE_JPEG_QUALITY, quality}))
    throw nxt::Error("cannot encode '" + path + "'");
  std::ofstream out(path, std::ios::binary);
  if (!out.write(reinterpret_cast<const char*>(bytes.data()),
                 static_cast<std::streamsize>(bytes.size())))
    throw nxt::Error("cannot write '" + path + "'");
  return {bytes.size(), image.cols, image.rows};
}

}  // namespace

int main(int argc, char** argv) {
  return nxt::run_guarded([&] {
    std::string output, format = "jpg";
    int classes = 4, per_class = 100, size = 64, quality = 90;
    uint64_t seed = 0;
    int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    CLI::App app{"make_demo_images: a deterministic ImageFolder of synthetic shape scenes"};
    app.add_option("--output", output, "folder to create (root/<class>/<image>)")->required();
    app.add_option("--classes", classes, "number of classes, 2 to 6 (--photos: to 1000; default 4)")
        ->check(CLI::Range(2, 1000));
    app.add_option("--per-class", per_class, "images per class (default 100)")
        ->check(CLI::PositiveNumber);
    app.add_option("--size", size, "image side in pixels (default 64)")
        ->check(CLI::Range(16, 4096));
    app.add_option("--seed", seed, "seed (default 0)");
    bool easy = false, photos = false;
    app.add_flag("--easy", easy, "large shapes, no distractor lines, little noise (the CPU demo)");
    app.add_flag("--photos", photos,
                 "JPEG photos of ImageNet's sizes (shorter side 200-500 px, about 390 x 365 on "
                 "average, about 110 KB at quality 90), a textured object per class; not with "
                 "--size, --easy or --format png");
    app.add_option("--format", format, "jpg or png")->check(CLI::IsMember({"jpg", "png"}));
    app.add_option("--quality", quality, "JPEG quality (default 90)")->check(CLI::Range(1, 100));
    app.add_option("--threads", threads, "threads (default: all cores)")
        ->check(CLI::PositiveNumber);
    CLI11_PARSE(app, argc, argv);

    if (photos && (app.count("--size") > 0 || easy || format != "jpg"))
      throw nxt::Error(
          "--photos draws each photo's size and writes JPEG: not with --size, --easy "
          "or --format png");
    if (!photos && classes > static_cast<int>(kShapes.size()))
      throw nxt::Error("--classes " + std::to_string(classes) + ": the scenes have " +
                       std::to_string(kShapes.size()) + " shapes (--photos takes up to 1000)");
    Difficulty difficulty;
    if (easy) difficulty = {0.3, 0.12, 0, 4, true};
    std::vector<std::string> names;
    for (int c = 0; c < classes; ++c) {
      names.push_back(photos ? photo_class_name(c, classes) : kShapes[c]);
      std::filesystem::create_directories(output + "/" + names.back());
    }
    const size_t total = static_cast<size_t>(classes) * per_class;
    cv::setNumThreads(1);
    uint64_t bytes_total = 0, width_total = 0, height_total = 0;
    nxt::ordered_parallel<Written>(
        total, static_cast<size_t>(threads), 4 * static_cast<size_t>(threads),
        [&](size_t i) {
          const int c = static_cast<int>(i / per_class), k = static_cast<int>(i % per_class);
          char name[32];
          std::snprintf(name, sizeof name, "%05d.%s", k, format.c_str());
          const std::string path = output + "/" + names[c] + "/" + name;
          // Photos: one random stream per (seed, class, index), whatever the threads.
          const cv::Mat image =
              photos
                  ? make_photo(
                        c, classes,
                        nxt::mix_seed({seed, static_cast<uint64_t>(c), static_cast<uint64_t>(k)}))
                  : make_scene(kShapes[c], size, difficulty, seed * 1000003ULL + i);
          return write_image(image, path, format, quality, photos);
        },
        [&](size_t, Written&& written) {
          bytes_total += written.bytes;
          width_total += written.width;
          height_total += written.height;
        });
    std::ostringstream line;  // one write (Note [Output arrives whole] in common/log.h)
    if (photos)
      line << "make_demo_images: wrote " << total << " JPEG photos (mean " << width_total / total
           << " x " << height_total / total << ", " << bytes_total / 1000.0 / total << " KB) in "
           << classes << " classes to " << output << "\n";
    else
      line << "make_demo_images: wrote " << total << " " << size << "x" << size << " " << format
           << " images in " << classes << " classes to " << output << "\n";
    nxt::log::print_out(line.str());
    return 0;
  });
}
