// Implements CSV quoting, fixed-point formatting and cutting a block into whole-line pieces.
#include "common/text_format.h"

#include <cstdio>

namespace nxt {

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string fixed(double value, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

std::vector<std::string_view> line_pieces(std::string_view text, size_t limit) {
  std::vector<std::string_view> pieces;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = start;
    while (end < text.size()) {
      const size_t line_end = text.find('\n', end);
      const size_t next = line_end == std::string_view::npos ? text.size() : line_end + 1;
      if (end > start && next - start > limit) break;  // the piece is full
      end = next;
    }
    pieces.push_back(text.substr(start, end - start));
    start = end;
  }
  return pieces;
}

}  // namespace nxt
