// Implements the EMA of the weights (Note [EMA of the weights] in train/ema.h).
#include "train/ema.h"

#include <algorithm>
#include <map>

#include "common/check.h"

namespace nxt {
namespace {

void copy_all(const std::vector<torch::Tensor>& to, const std::vector<torch::Tensor>& from) {
  for (size_t i = 0; i < to.size(); ++i) to[i].copy_(from[i]);
}

std::vector<torch::Tensor> tensors_of(const std::vector<NamedTensor>& named) {
  std::vector<torch::Tensor> tensors;
  for (const NamedTensor& item : named) tensors.push_back(item.tensor);
  return tensors;
}

}  // namespace

double adjusted_ema_decay(double decay, int64_t global_batch, int64_t every_steps, int64_t epochs) {
  const double adjust = static_cast<double>(global_batch) * static_cast<double>(every_steps) /
                        static_cast<double>(epochs);
  const double alpha = std::min(1.0, (1.0 - decay) * adjust);
  return 1.0 - alpha;
}

WeightEma::WeightEma(torch::nn::Module& model, EmaOptions options) : options_(options) {
  NXT_CHECK(options_.every_steps >= 1, "EMA: every_steps must be >= 1, got ", options_.every_steps);
  const torch::NoGradGuard no_grad;
  for (const auto& item : model.named_parameters(/*recurse=*/true))
    model_.push_back({item.key(), item.value().detach()});
  first_buffer_ = model_.size();
  for (const auto& item : model.named_buffers(/*recurse=*/true))
    model_.push_back({item.key(), item.value()});
  for (const NamedTensor& item : model_) {
    ema_.push_back({item.name, item.tensor.clone()});
    const bool floating = item.tensor.is_floating_point();
    (floating ? model_float_ : model_integer_).push_back(item.tensor);
    (floating ? ema_float_ : ema_integer_).push_back(ema_.back().tensor);
  }
}

bool WeightEma::after_step(int64_t global_step, int64_t epoch) {
  if (global_step % options_.every_steps != 0) return false;
  update();
  if (static_cast<double>(epoch) < options_.warmup_epochs) averaged_ = 0;
  return true;
}

void WeightEma::update() {
  const torch::NoGradGuard no_grad;
  if (averaged_ == 0) {
    copy_all(ema_float_, model_float_);
  } else if (!ema_float_.empty()) {  // (the foreach functions refuse empty lists)
    // decay * avg + (1 - decay) * p, each product rounded on its own as in the reference.
    at::_foreach_mul_(ema_float_, options_.decay);
    const std::vector<torch::Tensor> scaled = at::_foreach_mul(model_float_, 1.0 - options_.decay);
    at::_foreach_add_(ema_float_, scaled);
  }
  copy_all(ema_integer_, model_integer_);
  ++averaged_;
}

void WeightEma::reset() {
  const torch::NoGradGuard no_grad;
  copy_all(tensors_of(ema_), tensors_of(model_));
  averaged_ = 0;
}

std::vector<NamedTensor> WeightEma::buffers() const {
  return std::vector<NamedTensor>(ema_.begin() + static_cast<std::ptrdiff_t>(first_buffer_),
                                  ema_.end());
}

StateDict WeightEma::state_dict() const {
  StateDict state;
  for (const NamedTensor& item : ema_)
    state.emplace_back(item.name, item.tensor.detach().to(torch::kCPU).contiguous());
  return state;
}

void WeightEma::load(const StateDict& state, int64_t averaged, const std::string& source) {
  std::map<std::string, torch::Tensor> by_name(state.begin(), state.end());
  NXT_CHECK(by_name.size() == ema_.size(), "'", source, "': its EMA ('ema') has ", by_name.size(),
            " tensors, this model ", ema_.size());
  const torch::NoGradGuard no_grad;
  for (const NamedTensor& item : ema_) {
    const auto found = by_name.find(item.name);
    NXT_CHECK(found != by_name.end(), "'", source, "': its EMA ('ema') has no '", item.name, "'");
    NXT_CHECK(found->second.sizes() == item.tensor.sizes(), "'", source, "': its EMA's '",
              item.name, "' has shape ", found->second.sizes(), ", this model's ",
              item.tensor.sizes());
    item.tensor.copy_(found->second);
  }
  NXT_CHECK(averaged >= 0, "'", source, "': ema_updates is ", averaged);
  averaged_ = averaged;
}

WeightEma::InModel::InModel(WeightEma& ema) : ema_(ema) {
  const torch::NoGradGuard no_grad;
  for (const NamedTensor& item : ema_.model_) saved_.push_back(item.tensor.clone());
  copy_all(tensors_of(ema_.model_), tensors_of(ema_.ema_));
}

WeightEma::InModel::~InModel() {
  const torch::NoGradGuard no_grad;
  copy_all(tensors_of(ema_.model_), saved_);
}

}  // namespace nxt
