// The table of config keys: for each "section.key", how to read it from YAML into the typed
// Config, how to check it, and how to write it back. The only place that lists the keys.
#pragma once
#include <yaml-cpp/yaml.h>

#include <functional>
#include <string>
#include <vector>

#include "common/config.h"

namespace nxt {

struct ConfigKey {
  std::string name;
  std::string help;
  std::vector<std::string> choices;  // the valid names of a choice key, in table order; else empty
  // Reads `node` into the config; throws nxt::Error with a message that names what is wrong
  // (the caller adds where it came from).
  std::function<void(Config&, const YAML::Node&)> read;
  std::function<void(const Config&, YAML::Emitter&)> write;
};

const std::vector<ConfigKey>& config_schema();

// docs/config.md, whole: a header that says it is generated and how to regenerate it, then one
// table per section (run, data, ...) of every key with its default and help text, in schema
// order. `nxt_ddp --keys-markdown` prints it; a unit test compares it with the file.
std::string config_reference_markdown();

}  // namespace nxt
