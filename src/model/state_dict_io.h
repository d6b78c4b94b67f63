// Moving weights between nxt and Python: state dicts keyed by torchvision's names, saved in the
// zip/pickle format that Python's torch.load reads as a dict of tensors, and loaded from a plain
// dict that Python's torch.save wrote (data_tools/convert_state_dict.py makes one from any .pth).
#pragma once
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

namespace nxt {

using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

// Parameters then buffers, each under its registered dotted name, as CPU tensors.
StateDict state_dict_of(const torch::nn::Module& module);

// `value` pickled in torch.save's zip format with nothing but what PyTorch's weights-only
// unpickler accepts (torch.load's default since 2.6): dicts, lists, str, int, float, bool and
// tensors. torch::pickle_save tags typed dicts and int/float lists with TorchScript globals
// (torch.jit._pickle.restore_type_tag, build_intlist) that it refuses; this writes them plain.
// Int, float and bool lists must be generic lists (c10::impl::GenericList) to stay plain.
std::vector<char> pickle_save_plain(const c10::IValue& value);

// A pickled {name: tensor} dict in torch.save's zip format.
std::vector<char> state_dict_bytes(const StateDict& state);
// A state dict as the plain {name: tensor} dict those files and checkpoints store, and back:
// `value` must be such a dict, else the error names `source`.
c10::Dict<std::string, torch::Tensor> tensor_dict(const StateDict& state);
StateDict state_dict_of_value(const c10::IValue& value, const std::string& source);
StateDict state_dict_from_bytes(const std::vector<char>& bytes, const std::string& source);

// Atomic write: the old file survives any failure.
void save_state_dict(const StateDict& state, const std::string& path);
StateDict load_state_dict(const std::string& path);

// What happened to the parameters prefixed `classifier_prefix` when their shapes differed.
struct StateLoadReport {
  bool classifier_reinitialised = false;
  std::string classifier_detail;
};

// Copies `state` into `module`. Key sets must match exactly and shapes must agree, except that
// the classifier (names starting with `classifier_prefix`) may differ in shape: then it is left
// as initialised and reported. Errors list the offending keys and name `source`.
StateLoadReport copy_state_into(torch::nn::Module& module, const StateDict& state,
                                const std::string& source,
                                const std::string& classifier_prefix = "fc.");

}  // namespace nxt
