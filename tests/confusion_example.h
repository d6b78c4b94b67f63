// The hand-worked confusion matrix that the confusion and report tests both check against.
#pragma once
#include "eval/confusion.h"

namespace nxt::testing_support {

// truth \ predicted: a: 3 1 0 / b: 2 4 0 / c: 0 0 0 (class c never occurs and is never predicted)
inline ConfusionMatrix worked_confusion() {
  ConfusionMatrix m(3);
  m.add(0, 0, 3);
  m.add(0, 1, 1);
  m.add(1, 0, 2);
  m.add(1, 1, 4);
  return m;
}

}  // namespace nxt::testing_support
