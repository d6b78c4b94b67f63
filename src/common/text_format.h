// Text for the report outputs: CSV fields (file paths and class names may hold commas, quotes or
// newlines, and must come out unambiguous) and fixed-point numbers; JSON is written with
// nlohmann-json, which does its own quoting. And a block of lines cut into pieces for the
// terminal (Note [Output arrives whole] in common/log.h).
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace nxt {

// RFC 4180: quoted (with doubled quotes) only when the field holds a comma, quote or newline.
std::string csv_field(const std::string& text);

// A fixed-point number for reports ("%.<digits>f").
std::string fixed(double value, int digits);

// `text` cut after line ends into pieces of at most `limit` bytes; a longer line is a piece of
// its own (and a last line without its end, too). Concatenated, the pieces are `text`.
std::vector<std::string_view> line_pieces(std::string_view text, size_t limit);

}  // namespace nxt
