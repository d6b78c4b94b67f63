// Implements the confusion-matrix heat map.
#include "infer/confusion_png.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>

#include "common/check.h"

namespace nxt {
namespace {

constexpr int kCell = 64;
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
constexpr double kFontScale = 0.45;
const cv::Scalar kBlack(0, 0, 0), kWhite(255, 255, 255);

cv::Size text_size(const std::string& text) {
  int baseline = 0;
  return cv::getTextSize(text, kFont, kFontScale, 1, &baseline);
}

// Shortened with ".." to fit `width` pixels.
std::string fit(const std::string& text, int width) {
  std::string out = text;
  while (out.size() > 2 && text_size(out).width > width) out = out.substr(0, out.size() - 3) + "..";
  return out;
}

void put(cv::Mat& image, const std::string& text, cv::Point centre, const cv::Scalar& colour) {
  const cv::Size size = text_size(text);
  cv::putText(image, text, {centre.x - size.width / 2, centre.y + size.height / 2}, kFont,
              kFontScale, colour, 1, cv::LINE_AA);
}

// White to dark blue as the share goes from 0 to 1 (OpenCV colours are BGR).
cv::Scalar shade(double share) {
  const double s = std::clamp(share, 0.0, 1.0);
  return cv::Scalar(255 - 115 * s, 255 - 200 * s, 255 - 225 * s);
}

}  // namespace

std::vector<unsigned char> confusion_png(const ConfusionMatrix& confusion,
                                         const std::vector<std::string>& classes,
                                         const std::string& title) {
  const int k = static_cast<int>(confusion.classes());
  NXT_CHECK(static_cast<int>(classes.size()) == k, "confusion_png: ", classes.size(),
            " class names for a ", k, "-class matrix");
  int label_width = text_size("true class").width;
  for (const auto& name : classes) label_width = std::max(label_width, text_size(name).width);
  label_width = std::min(label_width, 240) + 16;
  const int top = 64, left = label_width, bottom = 36;
  cv::Mat image(top + k * kCell + bottom, std::max(left + k * kCell + 16, 360), CV_8UC3, kWhite);
  cv::putText(image, fit(title, image.cols - 16), {8, 20}, kFont, kFontScale, kBlack, 1,
              cv::LINE_AA);
  cv::putText(image, "true class", {8, top - 8}, kFont, kFontScale, kBlack, 1, cv::LINE_AA);
  put(image, "predicted class", {left + k * kCell / 2, top + k * kCell + bottom / 2}, kBlack);
  for (int row = 0; row < k; ++row) {
    int64_t row_total = 0;
    for (int col = 0; col < k; ++col) row_total += confusion.count(row, col);
    const std::string name = fit(classes[static_cast<size_t>(row)], left - 16);
    cv::putText(image, name, {8, top + row * kCell + kCell / 2 + 5}, kFont, kFontScale, kBlack, 1,
                cv::LINE_AA);
    put(image, fit(classes[static_cast<size_t>(row)], kCell - 4),
        {left + row * kCell + kCell / 2, top - 12}, kBlack);
    for (int col = 0; col < k; ++col) {
      const int64_t n = confusion.count(row, col);
      const double share = row_total ? static_cast<double>(n) / row_total : 0.0;
      const cv::Rect cell(left + col * kCell, top + row * kCell, kCell, kCell);
      cv::rectangle(image, cell, shade(share), cv::FILLED);
      cv::rectangle(image, cell, cv::Scalar(200, 200, 200), 1);
      put(image, std::to_string(n), {cell.x + kCell / 2, cell.y + kCell / 2},
          share > 0.5 ? kWhite : kBlack);
    }
  }
  std::vector<unsigned char> png;
#if defined(NXT_HAVE_IMAGE_CODECS)
  NXT_CHECK(cv::imencode(".png", image, png), "confusion_png: PNG encoding failed");
#else
  throw Error("this nxt was built without image encoding (NXT_WITH_IMAGE_CODECS=OFF)");
#endif
  return png;
}

}  // namespace nxt
