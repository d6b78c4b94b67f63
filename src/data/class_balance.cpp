// Implements the per-class counts and the balanced class weights.
#include "data/class_balance.h"

#include "common/check.h"

namespace nxt {

std::vector<int64_t> images_per_class(const std::vector<int32_t>& labels, int64_t num_classes) {
  NXT_CHECK(num_classes >= 1, "cannot count images over ", num_classes, " classes");
  std::vector<int64_t> counts(static_cast<size_t>(num_classes), 0);
  for (size_t i = 0; i < labels.size(); ++i) {
    NXT_CHECK(labels[i] >= 0 && labels[i] < num_classes, "sample ", i, " has the label ", labels[i],
              ", outside [0, ", num_classes, ")");
    ++counts[static_cast<size_t>(labels[i])];
  }
  return counts;
}

std::vector<int64_t> images_per_class(const ImageReader& reader) {
  return images_per_class(reader.labels(), reader.num_classes());
}

std::vector<double> balanced_class_weights(const std::vector<int64_t>& counts_per_class,
                                           const std::vector<std::string>& class_names) {
  NXT_CHECK(!counts_per_class.empty(), "balanced class weights need at least one class");
  NXT_CHECK(class_names.empty() || class_names.size() == counts_per_class.size(), "got ",
            class_names.size(), " class names for ", counts_per_class.size(), " class counts");
  std::vector<double> weights;
  double sum = 0;
  for (size_t c = 0; c < counts_per_class.size(); ++c) {
    if (counts_per_class[c] <= 0)
      throw Error(
          (class_names.empty() ? "class " + std::to_string(c) : "class '" + class_names[c] + "'") +
          " has " + std::to_string(counts_per_class[c]) +
          " training images: balanced class weights (1 / count) need at least one");
    weights.push_back(1.0 / static_cast<double>(counts_per_class[c]));
    sum += weights.back();
  }
  const double to_mean_one = static_cast<double>(weights.size()) / sum;
  for (double& w : weights) w *= to_mean_one;
  return weights;
}

}  // namespace nxt
