// Names for enum values, kept in one table per enum: parsing a name (with an error that lists
// the valid ones) and naming a value both read the same table.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/check.h"

namespace nxt {

template <class Enum>
using EnumNames = std::vector<std::pair<Enum, const char*>>;

// Every name in table order, e.g. for a command-line option's list of allowed values.
template <class Enum>
std::vector<std::string> names_of(const EnumNames<Enum>& names) {
  std::vector<std::string> all;
  for (const auto& [value, text] : names) all.emplace_back(text);
  return all;
}

// "a, b, c": the valid names, as error messages list them.
template <class Enum>
std::string joined_names(const EnumNames<Enum>& names) {
  std::string joined;
  for (const auto& [value, text] : names)
    joined += (joined.empty() ? "" : ", ") + std::string(text);
  return joined;
}

// The value named `name`, or nullopt when the table has no such name.
template <class Enum>
std::optional<Enum> find_enum(const std::string& name, const EnumNames<Enum>& names) {
  for (const auto& [value, text] : names)
    if (name == text) return value;
  return std::nullopt;
}

template <class Enum>
Enum enum_from_name(const std::string& name, const EnumNames<Enum>& names, const char* what) {
  if (const std::optional<Enum> value = find_enum(name, names)) return *value;
  throw Error("unknown " + std::string(what) + " '" + name + "' (" + joined_names(names) + ")");
}

template <class Enum>
const char* name_of(Enum value, const EnumNames<Enum>& names) {
  for (const auto& [candidate, text] : names)
    if (candidate == value) return text;
  return "?";
}

}  // namespace nxt
