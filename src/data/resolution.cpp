// Implements the resolution schedule (Note [Training size schedule] in data/resolution.h) and
// the evaluation size and crop.
#include "data/resolution.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "common/check.h"

namespace nxt {

double round_half_even(double value) {
  const double nearest = std::round(value);  // ties away from zero
  if (std::fabs(value - std::trunc(value)) != 0.5) return nearest;
  return 2.0 * std::round(value / 2.0);  // a tie: the even neighbour
}

int64_t train_size_at(const DataConfig& data, int64_t epoch_number) {
  const int64_t start = data.first_train_size(), end = data.last_train_size();
  if (start == end) return start;
  NXT_CHECK(data.train_size_ramp.size() == 2 && data.train_size_ramp[0] < data.train_size_ramp[1],
            "data.train_size_ramp must be [from, to] with from < to");
  const int64_t from = data.train_size_ramp[0], to = data.train_size_ramp[1];
  if (epoch_number <= from) return start;
  if (epoch_number >= to) return end;
  // numpy's interp between two points, in its order of operations (the same bits).
  const double slope = static_cast<double>(end - start) / static_cast<double>(to - from);
  const double size = slope * static_cast<double>(epoch_number - from) + static_cast<double>(start);
  return static_cast<int64_t>(round_half_even(size / 32.0)) * 32;
}

int64_t eval_size(const DataConfig& data) {
  return data.eval_size.value_or(data.image_size);
}

double eval_crop_ratio(const DataConfig& data) {
  if (!data.eval_resize) return data.eval_crop_ratio;
  return static_cast<double>(eval_size(data)) / static_cast<double>(*data.eval_resize);
}

int64_t shorter_side_for_crop(int64_t crop_side, double crop_ratio) {
  NXT_CHECK(crop_ratio > 0 && crop_ratio <= 1, "eval_crop_ratio must be in (0, 1], got ",
            crop_ratio);
  return static_cast<int64_t>(round_half_even(static_cast<double>(crop_side) / crop_ratio));
}

int64_t eval_resize_shorter(const DataConfig& data) {
  if (data.eval_resize) return *data.eval_resize;
  return shorter_side_for_crop(eval_size(data), data.eval_crop_ratio);
}

int64_t largest_input_size(const DataConfig& data) {
  return std::max({data.first_train_size(), data.last_train_size(), eval_size(data),
                   data.eval_resize.value_or(0)});
}

std::string resolution_text(const DataConfig& data, int64_t max_side) {
  std::ostringstream out;
  const int64_t start = data.first_train_size(), end = data.last_train_size();
  out << "training at " << start << " px";
  if (end != start)
    out << ", " << end << " px from epoch " << data.train_size_ramp[1] << " (linear from epoch "
        << data.train_size_ramp[0] << ", steps of 32)";
  out << "; evaluation at " << eval_size(data) << " px";
  if (max_side > 0)
    out << " (shorter side " << eval_resize_shorter(data) << ", centre crop; images stored "
        << "with their longer side <= " << max_side << " px)";
  else if (data.eval_resize)
    out << " (shorter side " << *data.eval_resize << ", centre crop)";
  else if (data.eval_crop_ratio != 1.0)
    out << " (centre crop " << data.eval_crop_ratio << " of each side)";
  return out.str();
}

}  // namespace nxt
