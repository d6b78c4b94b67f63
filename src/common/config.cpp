// Implements config loading: YAML file -> typed Config, --set overrides, validation, and the
// resolved YAML. Every error names its source (file:line or the --set argument) and the key.
#include "common/config.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "common/check.h"
#include "common/config_schema.h"
#include "common/fs.h"

namespace nxt {
namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitution});
    }
  }
  return row[b.size()];
}

std::string nearest_key(const std::string& name) {
  std::string best;
  size_t best_distance = SIZE_MAX;
  for (const ConfigKey& key : config_schema()) {
    const size_t distance = edit_distance(name, key.name);
    if (distance < best_distance) best = key.name, best_distance = distance;
  }
  return best;
}

const ConfigKey* find_key(const std::string& name) {
  for (const ConfigKey& key : config_schema())
    if (key.name == name) return &key;
  return nullptr;
}

bool is_section(const std::string& name) {
  for (const ConfigKey& key : config_schema())
    if (key.name.rfind(name + ".", 0) == 0) return true;
  return false;
}

[[noreturn]] void unknown_key(const std::string& where, const std::string& name) {
  throw Error(where + ": unknown key '" + name + "' (did you mean '" + nearest_key(name) + "'?)");
}

void apply_key(Config& config, const std::string& where, const std::string& name,
               const YAML::Node& value) {
  const ConfigKey* key = find_key(name);
  if (!key) unknown_key(where, name);
  try {
    key->read(config, value);
  } catch (const Error& e) {
    throw Error(where + ": " + name + ": " + e.what());
  }
}

std::string line_of(const std::string& source, const YAML::Node& node) {
  return source + ":" + std::to_string(node.Mark().line + 1);
}

void apply_document(Config& config, const YAML::Node& root, const std::string& source) {
  if (root.IsNull()) return;  // an empty file means all defaults
  if (!root.IsMap()) throw Error(line_of(source, root) + ": expected sections of keys (a map)");
  for (const auto& section : root) {
    const std::string section_name = section.first.as<std::string>();
    if (!section.second.IsMap()) {
      const std::string where = line_of(source, section.first);
      if (!is_section(section_name)) unknown_key(where, section_name);
      throw Error(where + ": '" + section_name + "' must be a section of keys (a map)");
    }
    for (const auto& entry : section.second) {
      const std::string name = section_name + "." + entry.first.as<std::string>();
      apply_key(config, line_of(source, entry.first), name, entry.second);
    }
  }
}

void apply_override(Config& config, const std::string& assignment) {
  const std::string where = "--set " + assignment;
  const size_t equals = assignment.find('=');
  if (equals == std::string::npos || equals == 0)
    throw Error(where + ": expected section.key=value");
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(equals + 1));
  } catch (const YAML::Exception& e) {
    throw Error(where + ": cannot parse the value: " + e.msg);
  }
  apply_key(config, where, assignment.substr(0, equals), value);
}

void validate(const Config& config, const std::string& source) {
  const ModelConfig& model = config.model;
  if (model.arch == ModelArch::kCustom && model.stem_width * model.width_per_group / 64 < 1)
    throw Error(source +
                ": model.width_per_group: stem_width * width_per_group / 64 must be at least 1 "
                "(got " +
                std::to_string(model.stem_width) + " * " + std::to_string(model.width_per_group) +
                " / 64), or the first stage's bottleneck has no channels");
  const DataConfig& data = config.data;
  if (data.eval_resize && data.eval_crop_ratio != 1.0)
    throw Error(source +
                ": data.eval_resize and data.eval_crop_ratio both say how much of the "
                "image evaluation crops: set one of them (eval_crop_ratio = eval_size / "
                "eval_resize)");
  const int64_t eval_size = data.eval_size.value_or(data.image_size);
  if (data.eval_resize && *data.eval_resize < eval_size)
    throw Error(source + ": data.eval_resize " + std::to_string(*data.eval_resize) +
                " is smaller than the evaluation crop data.eval_size " + std::to_string(eval_size));
  const int64_t start = data.first_train_size(), end = data.last_train_size();
  if (start != end && (start % 32 != 0 || end % 32 != 0))
    throw Error(source + ": data.train_size " + std::to_string(start) + " -> train_size_end " +
                std::to_string(end) +
                ": a ramp goes in steps of 32, so both must be multiples "
                "of 32");
  if (start != end && data.train_size_ramp[1] <= data.train_size_ramp[0])
    throw Error(source +
                ": data.train_size_ramp must be [from, to] with from < to when "
                "train_size_end differs from train_size");
  if (data.shard_by == ShardBy::kNode && data.sampler != SamplerKind::kShard)
    throw Error(source +
                ": data.shard_by node deals each node a fixed share of the images; "
                "data.sampler " +
                name_of(data.sampler, kSamplerNames) +
                " draws from all of them: use sampler shard with it, or shard_by rank");
  if (data.cache_in_memory && !data.stage_dir.empty())
    throw Error(source +
                ": data.cache_in_memory and data.stage_dir both say where the node's "
                "one copy goes (/dev/shm or '" +
                data.stage_dir + "'): set one of them");
  if (data.reshard_every_epochs > 0 && data.shard_by != ShardBy::kNode)
    throw Error(source +
                ": data.reshard_every_epochs re-deals the node shares of "
                "data.shard_by node; set shard_by: node or leave it 0");
  if (config.train.snapshot_every_steps != 0 && config.train.snapshot_dir.empty())
    throw Error(source +
                ": train.snapshot_dir is empty: name a node-local folder (/dev/shm) or set "
                "train.snapshot_every_steps: 0");
  const bool ema_metric = config.train.best_metric == BestMetric::kValAccEma ||
                          config.train.best_metric == BestMetric::kValLossEma;
  if (ema_metric && config.train.ema_decay == 0)
    throw Error(source + ": train.best_metric " +
                name_of(config.train.best_metric, kBestMetricNames) +
                " needs the EMA: set train.ema_decay (e.g. 0.99998)");
}

}  // namespace

std::string default_out_dir() {
  if (const char* out = std::getenv("NXT_OUT_DIR"); out && *out) return out;
  if (const char* scratch = std::getenv("SCRATCH"); scratch && *scratch)
    return std::string(scratch) + "/nxt-runs";
  return "runs";
}

Config parse_config(const std::string& yaml_text, const std::string& source_name,
                    const std::vector<std::string>& overrides) {
  Config config;
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    throw Error(source_name + ":" + std::to_string(e.mark.line + 1) + ":" +
                std::to_string(e.mark.column + 1) + ": YAML syntax error: " + e.msg);
  }
  apply_document(config, root, source_name);
  for (const std::string& assignment : overrides) apply_override(config, assignment);
  validate(config, source_name);
  return config;
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  if (path.empty()) return parse_config("", "(defaults)", overrides);
  if (!std::filesystem::is_regular_file(path))
    throw Error("config file '" + path + "' not found (or not a regular file)");
  return parse_config(read_file_text(path), path, overrides);
}

std::string to_yaml(const Config& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  std::string open_section;
  for (const ConfigKey& key : config_schema()) {
    const size_t dot = key.name.find('.');
    const std::string section = key.name.substr(0, dot);
    if (section != open_section) {
      if (!open_section.empty()) out << YAML::EndMap;
      out << YAML::Key << section << YAML::Value << YAML::BeginMap;
      open_section = section;
    }
    out << YAML::Key << key.name.substr(dot + 1) << YAML::Value;
    key.write(config, out);
  }
  if (!open_section.empty()) out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::vector<std::pair<std::string, std::string>> config_key_help() {
  std::vector<std::pair<std::string, std::string>> help;
  for (const ConfigKey& key : config_schema()) help.emplace_back(key.name, key.help);
  return help;
}

}  // namespace nxt
