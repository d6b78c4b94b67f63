// Implements state dict (de)serialisation and the checked copy into a module.
#include "model/state_dict_io.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include <map>
#include <sstream>

#include "common/check.h"
#include "common/fs.h"

namespace nxt {
namespace {

std::string join_names(const std::vector<std::string>& names, size_t limit = 8) {
  std::string text;
  for (size_t i = 0; i < names.size() && i < limit; ++i) text += (i ? ", " : "") + names[i];
  if (names.size() > limit) text += ", ... (" + std::to_string(names.size()) + " in all)";
  return text;
}

std::string shape_text(const torch::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

}  // namespace

StateDict state_dict_of(const torch::nn::Module& module) {
  StateDict state;
  for (const auto& item : module.named_parameters(/*recurse=*/true))
    state.emplace_back(item.key(), item.value().detach().to(torch::kCPU).contiguous());
  for (const auto& item : module.named_buffers(/*recurse=*/true))
    state.emplace_back(item.key(), item.value().detach().to(torch::kCPU).contiguous());
  return state;
}

std::vector<char> pickle_save_plain(const c10::IValue& value) {
  std::vector<char> pickle;
  torch::jit::Pickler pickler(
      [&pickle](const char* data, size_t size) { pickle.insert(pickle.end(), data, data + size); },
      /*tensor_table=*/nullptr, /*type_renamer=*/nullptr, /*memoized_class_types=*/nullptr,
      /*get_tensor_id=*/nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(value);
  pickler.stop();
  std::vector<char> container;
  caffe2::serialize::PyTorchStreamWriter writer([&container](const void* data, size_t size) {
    const auto* bytes = static_cast<const char*>(data);
    container.insert(container.end(), bytes, bytes + size);
    return size;
  });
  torch::jit::writeArchiveAndTensors("data", pickle.data(), pickle.size(), pickler.tensorData(),
                                     writer);
  writer.writeEndOfFile();
  return container;
}

c10::Dict<std::string, torch::Tensor> tensor_dict(const StateDict& state) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& [name, tensor] : state) dict.insert(name, tensor);
  return dict;
}

StateDict state_dict_of_value(const c10::IValue& value, const std::string& source) {
  if (!value.isGenericDict())
    throw Error("'" + source + "' holds a " + value.tagKind() + ", not a dict of tensors");
  StateDict state;
  for (const auto& entry : value.toGenericDict()) {
    if (!entry.key().isString() || !entry.value().isTensor())
      throw Error("'" + source + "' is not a {name: tensor} dict (found a " +
                  entry.key().tagKind() + " -> " + entry.value().tagKind() + " entry)");
    state.emplace_back(entry.key().toStringRef(), entry.value().toTensor());
  }
  return state;
}

std::vector<char> state_dict_bytes(const StateDict& state) {
  return pickle_save_plain(tensor_dict(state));
}

StateDict state_dict_from_bytes(const std::vector<char>& bytes, const std::string& source) {
  torch::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const std::exception& e) {
    std::string first_line = e.what();
    first_line = first_line.substr(0, first_line.find('\n'));
    throw Error("cannot read '" + source + "' as a state dict: " + first_line +
                ". Files from Python's model.state_dict() (an OrderedDict) or the legacy format "
                "need one conversion: /usr/bin/python3 data_tools/convert_state_dict.py '" +
                source + "' OUT.pt");
  }
  return state_dict_of_value(value, source);
}

void save_state_dict(const StateDict& state, const std::string& path) {
  const std::vector<char> bytes = state_dict_bytes(state);
  write_file_atomic(path, bytes.data(), bytes.size());
}

StateDict load_state_dict(const std::string& path) {
  return state_dict_from_bytes(read_file_bytes(path), path);
}

StateLoadReport copy_state_into(torch::nn::Module& module, const StateDict& state,
                                const std::string& source, const std::string& classifier_prefix) {
  std::map<std::string, torch::Tensor> targets;
  for (const auto& item : module.named_parameters(true)) targets[item.key()] = item.value();
  for (const auto& item : module.named_buffers(true)) targets[item.key()] = item.value();

  std::vector<std::string> unexpected, mismatched, classifier_mismatch;
  std::map<std::string, torch::Tensor> found;
  for (const auto& [name, tensor] : state) {
    auto target = targets.find(name);
    if (target == targets.end()) {
      unexpected.push_back(name);
    } else if (!target->second.sizes().equals(tensor.sizes())) {
      const std::string detail =
          name + " " + shape_text(tensor) + " vs model " + shape_text(target->second);
      (starts_with(name, classifier_prefix) ? classifier_mismatch : mismatched).push_back(detail);
      found[name] = torch::Tensor();
    } else {
      found[name] = tensor;
    }
  }
  std::vector<std::string> missing;
  for (const auto& [name, tensor] : targets)
    if (!found.count(name)) missing.push_back(name);

  std::string problems;
  if (!missing.empty()) problems += " missing keys: " + join_names(missing) + ";";
  if (!unexpected.empty()) problems += " unexpected keys: " + join_names(unexpected) + ";";
  if (!mismatched.empty()) problems += " shape mismatches: " + join_names(mismatched) + ";";
  if (!problems.empty())
    throw Error("state dict '" + source + "' does not fit the model:" + problems);

  torch::NoGradGuard no_grad;
  for (const auto& [name, tensor] : found)
    if (tensor.defined()) targets[name].copy_(tensor);

  StateLoadReport report;
  report.classifier_reinitialised = !classifier_mismatch.empty();
  report.classifier_detail = join_names(classifier_mismatch);
  return report;
}

}  // namespace nxt
