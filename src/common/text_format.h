// Text for the report outputs: CSV fields (file paths and class names may hold commas, quotes or
// newlines, and must come out unambiguous) and fixed-point numbers. JSON is written with
// nlohmann-json, which does its own quoting.
#pragma once
#include <string>

namespace nxt {

// RFC 4180: quoted (with doubled quotes) only when the field holds a comma, quote or newline.
std::string csv_field(const std::string& text);

// A fixed-point number for reports ("%.<digits>f").
std::string fixed(double value, int digits);

}  // namespace nxt
