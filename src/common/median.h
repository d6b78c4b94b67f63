// The median of a set of figures, shared by the straggler report (train/step_telemetry.h) and
// the preflight's statistics and verdict (preflight/timing.h, preflight/report.h).
#pragma once
#include <algorithm>
#include <cstddef>
#include <vector>

namespace nxt {

// The median of `values` (the mean of the middle two for an even count); 0 when empty.
inline double median_of(std::vector<double> values) {
  if (values.empty()) return 0;
  const size_t middle = values.size() / 2;
  const auto middle_it = values.begin() + static_cast<std::ptrdiff_t>(middle);
  std::nth_element(values.begin(), middle_it, values.end());
  const double upper = *middle_it;
  if (values.size() % 2 == 1) return upper;
  return (*std::max_element(values.begin(), middle_it) + upper) / 2;
}

}  // namespace nxt
