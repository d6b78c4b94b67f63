// Draws a confusion matrix as a PNG heat map with OpenCV (no Python needed): rows are the true
// classes, columns the predicted ones, each cell shaded by its share of the row and labelled
// with its count.
#pragma once
#include <string>
#include <vector>

#include "eval/confusion.h"

namespace nxt {

// The encoded PNG bytes.
std::vector<unsigned char> confusion_png(const ConfusionMatrix& confusion,
                                         const std::vector<std::string>& classes,
                                         const std::string& title);

}  // namespace nxt
