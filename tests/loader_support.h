// Helpers shared by the loader tests (test_loader.cpp, test_random_erase.cpp).
#pragma once
#include <utility>
#include <vector>

#include "data/loader.h"

namespace nxt::testing_support {

// Every batch the loader yields, in order.
inline std::vector<Batch> drain(EpochLoader& loader) {
  std::vector<Batch> batches;
  while (auto batch = loader.next()) batches.push_back(std::move(*batch));
  return batches;
}

}  // namespace nxt::testing_support
