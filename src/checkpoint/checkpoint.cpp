// Implements the checkpoint dict: writing, reading with validation, and the optimizer archive.
#include "checkpoint/checkpoint.h"

#include <sstream>

#include "common/check.h"
#include "common/fault_injector.h"
#include "common/fs.h"
#include "common/hash.h"

namespace nxt {
namespace {

// Test hook NXT_PAUSE_IN_CHECKPOINT_WRITE_S (common/fault_injector.h): every checkpoint write
// sleeps that long between its complete temp file and the rename, so that a test can kill rank
// 0 while the temp file exists (tests/e2e/train_kill_during_checkpoint.sh) or signal it twice
// while it writes (tests/e2e/train_stop_signals.sh).
double pause_before_publish_s() {
  return FaultInjector::process().checkpoint_publish_pause_s();
}

torch::Tensor bytes_tensor(const std::vector<char>& bytes) {
  return torch::from_blob(const_cast<char*>(bytes.data()), {static_cast<int64_t>(bytes.size())},
                          torch::kUInt8)
      .clone();
}

std::vector<char> tensor_bytes(const torch::Tensor& tensor) {
  const torch::Tensor t = tensor.contiguous();
  const auto* data = reinterpret_cast<const char*>(t.data_ptr<uint8_t>());
  return std::vector<char>(data, data + t.numel());
}

c10::IValue entry(const c10::impl::GenericDict& dict, const std::string& key,
                  const std::string& path) {
  NXT_CHECK(dict.contains(key), "checkpoint '", path, "' has no '", key,
            "' entry (corrupt, or not an nxt checkpoint)");
  return dict.at(key);
}

// Numbers go in generic lists, which pickle as plain Python lists (model/state_dict_io.h).
template <class T>
c10::impl::GenericList plain_list(const std::vector<T>& values) {
  c10::impl::GenericList list(c10::AnyType::get());
  for (const T& value : values) list.push_back(value);
  return list;
}

std::array<double, 3> rgb_values(const c10::IValue& value, const std::string& what,
                                 const std::string& path) {
  const auto list = value.toListRef();  // typed (older files) or generic
  NXT_CHECK(list.size() == 3, "checkpoint '", path, "': preprocess ", what, " has ", list.size(),
            " values, expected 3 (RGB)");
  return {list[0].toDouble(), list[1].toDouble(), list[2].toDouble()};
}

c10::impl::GenericDict preprocess_dict(const Preprocess& p) {
  c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
  dict.insert("stored_size", plain_list(std::vector<int64_t>{p.stored_height, p.stored_width}));
  dict.insert("resize_mode", p.resize_mode);
  dict.insert("input_size", p.input_size);
  dict.insert("eval_crop_ratio", p.eval_crop_ratio);
  dict.insert("mean", plain_list(std::vector<double>(p.mean.begin(), p.mean.end())));
  dict.insert("std", plain_list(std::vector<double>(p.stddev.begin(), p.stddev.end())));
  dict.insert("train_size", p.train_size);
  dict.insert("max_side", p.max_side);
  dict.insert("eval_resize", p.eval_resize);
  return dict;
}

Preprocess preprocess_from(const c10::impl::GenericDict& dict, const std::string& path) {
  Preprocess p;
  const auto stored = entry(dict, "stored_size", path).toListRef();
  NXT_CHECK(stored.size() == 2, "checkpoint '", path, "': preprocess stored_size needs [H, W]");
  p.stored_height = stored[0].toInt();
  p.stored_width = stored[1].toInt();
  p.resize_mode = entry(dict, "resize_mode", path).toStringRef();
  p.input_size = entry(dict, "input_size", path).toInt();
  if (dict.contains("eval_crop_ratio")) p.eval_crop_ratio = dict.at("eval_crop_ratio").toDouble();
  p.mean = rgb_values(entry(dict, "mean", path), "mean", path);
  p.stddev = rgb_values(entry(dict, "std", path), "std", path);
  if (dict.contains("train_size")) p.train_size = dict.at("train_size").toInt();  // 0: older
  // Absent before format version 2 data: 0, the fixed-square pipeline those files were made by.
  if (dict.contains("max_side")) p.max_side = dict.at("max_side").toInt();
  if (dict.contains("eval_resize")) p.eval_resize = dict.at("eval_resize").toInt();
  NXT_CHECK(p.max_side >= 0 && p.eval_resize >= 0, "checkpoint '", path, "': preprocess max_side ",
            p.max_side, " and eval_resize ", p.eval_resize, " cannot be negative");
  NXT_CHECK(p.layout() == StoredLayout::kFixedSquares || p.eval_resize >= p.input_size,
            "checkpoint '", path, "': preprocess eval_resize ", p.eval_resize,
            " (the shorter side before the centre crop) is smaller than input_size ", p.input_size,
            " (version 2 data, max_side ", p.max_side, ")");
  return p;
}

// Adam's and AdamW's states are distinct types with the same three moments.
template <class AdamState, class Map>
void map_moments(AdamState& state, const Map& to) {
  state.exp_avg(to(state.exp_avg()));
  state.exp_avg_sq(to(state.exp_avg_sq()));
  state.max_exp_avg_sq(to(state.max_exp_avg_sq()));
}

// Replaces every tensor of an Adam, AdamW or SGD parameter state by to(tensor).
template <class Map>
void map_state_tensors(torch::optim::OptimizerParamState& state, const Map& to) {
  if (auto* adam = dynamic_cast<torch::optim::AdamParamState*>(&state)) {
    map_moments(*adam, to);
  } else if (auto* adamw = dynamic_cast<torch::optim::AdamWParamState*>(&state)) {
    map_moments(*adamw, to);
  } else if (auto* sgd = dynamic_cast<torch::optim::SGDParamState*>(&state)) {
    sgd->momentum_buffer(to(sgd->momentum_buffer()));
  } else {
    throw Error("an optimizer state of unknown type (nxt knows Adam, AdamW and SGD)");
  }
}

std::vector<char> archive_bytes(torch::serialize::OutputArchive& archive) {
  std::ostringstream out;
  archive.save_to(out);
  const std::string text = out.str();
  return std::vector<char>(text.begin(), text.end());
}

}  // namespace

std::string model_signature(ModelArch arch, const StateDict& state) {
  Fnv1a64 hash;
  for (const auto& [name, tensor] : state) {
    hash.add(name);
    for (int64_t size : tensor.sizes()) hash.add_value(size);
  }
  return std::string(name_of(arch, kArchNames)) + "/" + std::to_string(state.size()) + "/" +
         hash.hex();
}

std::vector<char> optimizer_bytes(const torch::optim::Optimizer& optimizer) {
  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  return archive_bytes(archive);
}

OptimizerSnapshot::OptimizerSnapshot(torch::optim::Optimizer& optimizer)
    : archive_(std::make_shared<torch::serialize::OutputArchive>()) {
  // optimizer.save() puts the state's tensors themselves in the archive, and the next step
  // updates them in place: so the archive is made of a state of copies. (The state map's key
  // type differs between LibTorch 1.13 and 2.x; decltype takes either.)
  auto& live = optimizer.state();
  std::remove_reference_t<decltype(live)> copies;
  const auto to_cpu_copy = [](const torch::Tensor& t) {
    return t.defined() ? t.to(torch::kCPU, /*non_blocking=*/false, /*copy=*/true) : t;
  };
  for (const auto& [key, state] : live) {
    std::unique_ptr<torch::optim::OptimizerParamState> copy = state->clone();
    map_state_tensors(*copy, to_cpu_copy);
    copies.emplace(key, std::move(copy));
  }
  std::swap(live, copies);
  try {
    optimizer.save(*archive_);
  } catch (...) {
    std::swap(live, copies);
    throw;
  }
  std::swap(live, copies);
}

std::vector<char> OptimizerSnapshot::bytes() const {
  NXT_CHECK(archive_, "OptimizerSnapshot::bytes: the snapshot holds no optimizer state");
  return archive_bytes(*archive_);
}

void move_optimizer_state(torch::optim::Optimizer& optimizer, torch::Device device) {
  const auto to = [device](const torch::Tensor& t) { return t.defined() ? t.to(device) : t; };
  for (auto& entry : optimizer.state()) map_state_tensors(*entry.second, to);
}

void load_optimizer_bytes(torch::optim::Optimizer& optimizer, const std::vector<char>& bytes,
                          const std::string& source, torch::Device device) {
  try {
    std::istringstream in(std::string(bytes.begin(), bytes.end()));
    torch::serialize::InputArchive archive;
    archive.load_from(in, torch::Device(torch::kCPU));
    optimizer.load(archive);
  } catch (const c10::Error& e) {
    throw Error("cannot restore the optimizer from '" + source +
                "' (another optimizer or model?): " + e.what_without_backtrace());
  }
  move_optimizer_state(optimizer, device);
}

void save_checkpoint(const Checkpoint& checkpoint, const std::string& path) {
  write_checkpoint_file(checkpoint_bytes(checkpoint), path);
}

void write_checkpoint_file(const std::vector<char>& bytes, const std::string& path) {
  write_file_atomic(path, bytes.data(), bytes.size(), pause_before_publish_s());
}

bool link_checkpoint_file(const std::string& existing, const std::string& path) {
  return publish_as_link(existing, path, pause_before_publish_s());
}

std::vector<char> checkpoint_bytes(const Checkpoint& checkpoint, CheckpointWeights model_weights) {
  const bool ema_as_model = model_weights == CheckpointWeights::kEma;
  NXT_CHECK(!ema_as_model || checkpoint.ema,
            "checkpoint_bytes: the EMA's weights were asked for, and the checkpoint has none");
  const StateDict& weights = ema_as_model ? checkpoint.ema->weights : checkpoint.model;
  c10::List<std::string> classes;
  for (const auto& name : checkpoint.classes) classes.push_back(name);
  const TrainingPosition& p = checkpoint.position;
  c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
  dict.insert("format", kCheckpointFormat);
  dict.insert("format_version", kCheckpointVersion);
  dict.insert("model", tensor_dict(weights));
  dict.insert("weights", name_of(ema_as_model ? CheckpointWeights::kEma : checkpoint.weights,
                                 kCheckpointWeightsNames));
  if (checkpoint.ema && !ema_as_model) {
    dict.insert("ema", tensor_dict(checkpoint.ema->weights));
    dict.insert("ema_updates", checkpoint.ema->averaged);
  }
  dict.insert("optimizer", bytes_tensor(checkpoint.optimizer));
  dict.insert("epoch", p.epoch);
  dict.insert("step_in_epoch", p.step_in_epoch);
  dict.insert("global_step", p.global_step);
  dict.insert("epoch_samples_done", p.samples_in_epoch);
  dict.insert("world_size", p.world_size);
  dict.insert("global_batch", p.global_batch);
  dict.insert("epoch_sequence_nodes", p.sequence_nodes);
  dict.insert("epoch_sequence_ranks_per_node", p.sequence_ranks_per_node);
  dict.insert("best_val_acc", p.best_val_acc);
  dict.insert("best_epoch", p.best_epoch);
  dict.insert("best_val_loss", p.best_val_loss);
  dict.insert("epoch_loss_sum", p.loss_sum);
  dict.insert("epoch_correct", p.correct);
  dict.insert("epoch_seen", p.seen);
  if (p.loss_scale > 0) {
    dict.insert("loss_scale", p.loss_scale);
    dict.insert("loss_scale_growth_tracker", p.loss_scale_growth_tracker);
  }
  dict.insert("config", checkpoint.config_yaml);
  dict.insert("classes", classes);
  dict.insert("dataset_fingerprint", checkpoint.dataset_fingerprint);
  dict.insert("model_signature", checkpoint.model_signature);
  if (checkpoint.preprocess) dict.insert("preprocess", preprocess_dict(*checkpoint.preprocess));
  return pickle_save_plain(dict);
}

Checkpoint load_checkpoint(const std::string& path) {
  return parse_checkpoint(read_file_bytes(path), path);
}

Checkpoint parse_checkpoint(const std::vector<char>& bytes, const std::string& path) {
  c10::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const c10::Error& e) {
    throw Error("cannot read checkpoint '" + path +
                "': it is not an nxt checkpoint, or it is truncated or corrupt (a file from "
                "Python's torch.save goes through data_tools/convert_state_dict.py into "
                "model.pretrained instead): " +
                e.what_without_backtrace());
  }
  NXT_CHECK(value.isGenericDict(), "'", path, "' is not an nxt checkpoint");
  const auto dict = value.toGenericDict();
  NXT_CHECK(dict.contains("format") && dict.at("format").isString() &&
                dict.at("format").toStringRef() == kCheckpointFormat,
            "'", path, "' is not an nxt checkpoint (no format 'nxt-checkpoint'; a plain state ",
            "dict goes in model.pretrained instead)");
  Checkpoint c;
  c.model = state_dict_of_value(entry(dict, "model", path), path + "': 'model");
  if (dict.contains("weights")) {  // absent before the EMA: the raw weights
    const std::string& name = dict.at("weights").toStringRef();
    const std::optional<CheckpointWeights> weights = find_enum(name, kCheckpointWeightsNames);
    NXT_CHECK(weights, "checkpoint '", path, "': unknown 'weights' \"", name, "\" (",
              joined_names(kCheckpointWeightsNames), ")");
    c.weights = *weights;
  }
  if (dict.contains("ema")) {
    c.ema = EmaState{state_dict_of_value(dict.at("ema"), path + "': 'ema"),
                     entry(dict, "ema_updates", path).toInt()};
  }
  c.optimizer = tensor_bytes(entry(dict, "optimizer", path).toTensor());
  TrainingPosition& p = c.position;
  p.epoch = entry(dict, "epoch", path).toInt();
  p.step_in_epoch = entry(dict, "step_in_epoch", path).toInt();
  p.global_step = entry(dict, "global_step", path).toInt();
  // Absent before nxt 0.2: the trainer derives them from step_in_epoch.
  const auto optional_int = [&dict](const char* key) {
    return dict.contains(key) ? dict.at(key).toInt() : int64_t{0};
  };
  p.samples_in_epoch = optional_int("epoch_samples_done");
  p.world_size = optional_int("world_size");
  p.global_batch = optional_int("global_batch");
  // Absent before data.shard_by: shard_by rank's sequence.
  p.sequence_nodes = optional_int("epoch_sequence_nodes");
  p.sequence_ranks_per_node = optional_int("epoch_sequence_ranks_per_node");
  NXT_CHECK(p.sequence_nodes >= 0 && p.sequence_ranks_per_node >= 0 &&
                (p.sequence_nodes == 0) == (p.sequence_ranks_per_node == 0),
            "checkpoint '", path, "': epoch_sequence_nodes ", p.sequence_nodes,
            " and epoch_sequence_ranks_per_node ", p.sequence_ranks_per_node,
            " are not a node layout (both 0, or both positive)");
  p.best_val_acc = entry(dict, "best_val_acc", path).toDouble();
  p.best_epoch = entry(dict, "best_epoch", path).toInt();
  if (dict.contains("best_val_loss")) p.best_val_loss = dict.at("best_val_loss").toDouble();
  p.loss_sum = entry(dict, "epoch_loss_sum", path).toDouble();
  p.correct = entry(dict, "epoch_correct", path).toInt();
  p.seen = entry(dict, "epoch_seen", path).toInt();
  if (dict.contains("loss_scale")) {  // fp16 runs only
    p.loss_scale = dict.at("loss_scale").toDouble();
    p.loss_scale_growth_tracker = entry(dict, "loss_scale_growth_tracker", path).toInt();
  }
  c.config_yaml = entry(dict, "config", path).toStringRef();
  for (const auto& name : entry(dict, "classes", path).toListRef())
    c.classes.push_back(name.toStringRef());
  c.dataset_fingerprint = entry(dict, "dataset_fingerprint", path).toStringRef();
  c.model_signature = entry(dict, "model_signature", path).toStringRef();
  if (dict.contains("preprocess"))
    c.preprocess = preprocess_from(dict.at("preprocess").toGenericDict(), path);
  return c;
}

}  // namespace nxt
