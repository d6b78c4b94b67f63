// Class frequencies of a split and the balanced loss weights made from them
// (`train.class_weights: balanced`): w_c proportional to 1 / count_c, normalised so that the
// mean over the classes is 1, so the loss keeps its scale (a balanced split gets all ones) and
// the learning rate need not change with the weighting.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/image_reader.h"

namespace nxt {

// counts[c] = the number of samples labelled c, for c in [0, num_classes); a label outside that
// range is an error naming the sample.
std::vector<int64_t> images_per_class(const std::vector<int32_t>& labels, int64_t num_classes);
std::vector<int64_t> images_per_class(const ImageReader& reader);  // the reader's split

// Inverse-frequency weights with mean 1. A class with no images has no finite weight: that is
// an error naming the class (by `class_names[c]` when given, else its index), since a loss
// weight cannot make up for a class the training split lacks; fix the split instead.
std::vector<double> balanced_class_weights(const std::vector<int64_t>& counts_per_class,
                                           const std::vector<std::string>& class_names = {});

}  // namespace nxt
