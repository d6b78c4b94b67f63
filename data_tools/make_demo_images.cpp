// make_demo_images: writes a deterministic ImageFolder of synthetic scenes (JPEG or PNG) for the
// demo, the tests and the benchmarks. Each class is a shape (circle, square, triangle, star,
// cross, ring) drawn with random colour, position, scale and rotation over a random gradient with
// distractor lines and pixel noise: learnable by a CNN, but not by a colour histogram.
#include <CLI/CLI.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <thread>

#include "common/check.h"
#include "common/hash.h"
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

}  // namespace

int main(int argc, char** argv) {
  return nxt::run_guarded([&] {
    std::string output, format = "jpg";
    int classes = 4, per_class = 100, size = 64;
    uint64_t seed = 0;
    int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    CLI::App app{"make_demo_images: a deterministic ImageFolder of synthetic shape scenes"};
    app.add_option("--output", output, "folder to create (root/<class>/<image>)")->required();
    app.add_option("--classes", classes, "number of classes, 2 to 6 (default 4)")
        ->check(CLI::Range(2, 6));
    app.add_option("--per-class", per_class, "images per class (default 100)")
        ->check(CLI::PositiveNumber);
    app.add_option("--size", size, "image side in pixels (default 64)")
        ->check(CLI::Range(16, 4096));
    app.add_option("--seed", seed, "seed (default 0)");
    bool easy = false;
    app.add_flag("--easy", easy, "large shapes, no distractor lines, little noise (the CPU demo)");
    app.add_option("--format", format, "jpg or png")->check(CLI::IsMember({"jpg", "png"}));
    app.add_option("--threads", threads, "threads (default: all cores)")
        ->check(CLI::PositiveNumber);
    CLI11_PARSE(app, argc, argv);

    Difficulty difficulty;
    if (easy) difficulty = {0.3, 0.12, 0, 4, true};
    for (int c = 0; c < classes; ++c)
      std::filesystem::create_directories(output + "/" + kShapes[c]);
    const size_t total = static_cast<size_t>(classes) * per_class;
    cv::setNumThreads(1);
    nxt::ordered_parallel<bool>(
        total, static_cast<size_t>(threads), 4 * static_cast<size_t>(threads),
        [&](size_t i) {
          const int c = static_cast<int>(i / per_class), k = static_cast<int>(i % per_class);
          const cv::Mat image = make_scene(kShapes[c], size, difficulty, seed * 1000003ULL + i);
          char name[32];
          std::snprintf(name, sizeof name, "%05d.%s", k, format.c_str());
          const std::string path = output + "/" + kShapes[c] + "/" + name;
          if (!cv::imwrite(path, image, {cv::IMWRITE_JPEG_QUALITY, 90}))
            throw nxt::Error("cannot write '" + path + "'");
          return true;
        },
        [](size_t, bool&&) {});
    std::cout << "make_demo_images: wrote " << total << " " << size << "x" << size << " " << format
              << " images in " << classes << " classes to " << output << "\n";
    return 0;
  });
}
