// Names for enum values, kept in one table per enum: parsing a name (with an error that lists
// the valid ones) and naming a value both read the same table.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "common/check.h"

namespace nxt {

template <class Enum>
using EnumNames = std::vector<std::pair<Enum, const char*>>;

template <class Enum>
Enum enum_from_name(const std::string& name, const EnumNames<Enum>& names, const char* what) {
  std::string valid;
  for (const auto& [value, text] : names) {
    if (name == text) return value;
    valid += (valid.empty() ? "" : ", ") + std::string(text);
  }
  throw Error("unknown " + std::string(what) + " '" + name + "' (" + valid + ")");
}

template <class Enum>
const char* name_of(Enum value, const EnumNames<Enum>& names) {
  for (const auto& [candidate, text] : names)
    if (candidate == value) return text;
  return "?";
}

}  // namespace nxt
