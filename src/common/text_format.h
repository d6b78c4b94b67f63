// Quoting for the machine-readable outputs (CSV and JSON lines): file paths and class names may
// hold commas, quotes or non-ASCII bytes, and must come out unambiguous.
#pragma once
#include <string>

namespace nxt {

// RFC 4180: quoted (with doubled quotes) only when the field holds a comma, quote or newline.
std::string csv_field(const std::string& text);

// A JSON string literal, quotes included; control characters escaped, UTF-8 passed through.
std::string json_string(const std::string& text);

// A fixed-point number for reports ("%.<digits>f").
std::string fixed(double value, int digits);

}  // namespace nxt
