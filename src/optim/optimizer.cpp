#include "fovea/optim/optimizer.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "fovea/autograd.h"
#include "fovea/error.h"

namespace fovea::optim {
namespace {

constexpr const char* kInitialLr = "initial_lr";

// A copy that owns its storage and is cut from any graph.
Tensor copy_of(const Tensor& t) {
  autograd::NoGradGuard no_grad;
  return t.detach().clone();
}

}  // namespace

Optimizer::Optimizer(std::string name, std::vector<Tensor> params)
    : name_(std::move(name)), params_(std::move(params)), state_(params_.size()) {
  if (params_.empty())
    throw ValueError(fmt::format("{}: params expects at least one tensor, got none", name_));
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    if (!p.defined())
      throw ValueError(fmt::format("{}: params[{}] expects a defined tensor", name_, i));
    if (!p.is_leaf())
      throw ValueError(fmt::format(
          "{}: params[{}] expects a leaf tensor (a parameter), got the result of an operation",
          name_, i));
    for (size_t j = 0; j < i; ++j)
      if (params_[j].is_same(p))
        throw ValueError(fmt::format(
            "{}: params expects distinct tensors, got params[{}] and params[{}] sharing storage",
            name_, j, i));
  }
}

void Optimizer::step() {
  autograd::NoGradGuard no_grad;
  update();
}

void Optimizer::zero_grad(bool set_to_none) {
  for (Tensor& p : params_) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (set_to_none)
      p.set_grad(Tensor());
    else
      g.fill_(0.0f);
  }
}

double Optimizer::hyper(const std::map<std::string, double>& values, const std::string& key) const {
  const auto it = values.find(key);
  if (it == values.end())
    throw ValueError(fmt::format(
        "{}: load_state_dict expects hyper-parameter '{}' in the state, got none", name_, key));
  return it->second;
}

OptimizerState Optimizer::state_dict() const {
  OptimizerState s{name_, hyper_parameters(), {}};
  if (initial_lr_) s.hyper_parameters[kInitialLr] = *initial_lr_;
  for (size_t i = 0; i < state_.size(); ++i)
    for (const auto& [key, t] : state_[i]) s.tensors[fmt::format("{}.{}", i, key)] = copy_of(t);
  return s;
}

std::vector<Optimizer::ParamState> Optimizer::parse_state(
    const std::map<std::string, Tensor>& tensors) const {
  const std::vector<std::string> keys = state_keys();
  std::vector<ParamState> parsed(params_.size());
  for (const auto& [name, t] : tensors) {
    const size_t dot = name.find('.');
    size_t index = 0;
    const char* first = name.data();
    const char* last = name.data() + std::min(dot, name.size());
    const auto [end, ec] = std::from_chars(first, last, index);
    if (dot == std::string::npos || ec != std::errc() || end != last || index >= params_.size())
      throw ValueError(fmt::format(
          "{}: load_state_dict expects tensor names '<parameter index below {}>.<buffer>', got "
          "'{}'",
          name_, params_.size(), name));
    const std::string key = name.substr(dot + 1);
    if (std::ranges::find(keys, key) == keys.end())
      throw ValueError(fmt::format("{}: load_state_dict expects buffers {}, got '{}'", name_,
                                   fmt::join(keys, ", "), name));
    const Shape expected = key == "step" ? Shape{} : params_[index].shape();
    if (!t.defined() || t.shape() != expected)
      throw ValueError(fmt::format("{}: load_state_dict expects '{}' of shape {}, got {}", name_,
                                   name, shape_str(expected),
                                   t.defined() ? shape_str(t.shape()) : "an undefined tensor"));
    parsed[index][key] = copy_of(t);
  }
  for (size_t i = 0; i < parsed.size(); ++i)
    if (!parsed[i].empty() && parsed[i].size() != keys.size())
      throw ValueError(fmt::format(
          "{}: load_state_dict expects parameter {} to have all of its buffers ({}) or none, got "
          "{} of them",
          name_, i, fmt::join(keys, ", "), parsed[i].size()));
  return parsed;
}

void Optimizer::load_state_dict(const OptimizerState& state) {
  if (state.optimizer != name_)
    throw ValueError(
        fmt::format("{}: load_state_dict expects the state of a {} optimizer, got one of {}", name_,
                    name_, state.optimizer.empty() ? "unnamed type" : state.optimizer));
  std::map<std::string, double> values = state.hyper_parameters;
  std::optional<double> initial_lr;
  if (auto it = values.find(kInitialLr); it != values.end()) {
    initial_lr = it->second;
    values.erase(it);
  }
  const std::map<std::string, double> previous = hyper_parameters();
  for (const auto& [key, value] : values)
    if (!previous.contains(key))
      throw ValueError(
          fmt::format("{}: load_state_dict got unknown hyper-parameter '{}'", name_, key));
  set_hyper_parameters(values);  // validates before changing anything
  std::vector<ParamState> parsed;
  try {
    parsed = parse_state(state.tensors);  // its buffer names depend on the new values (amsgrad)
  } catch (...) {
    set_hyper_parameters(previous);
    throw;
  }
  state_ = std::move(parsed);
  initial_lr_ = initial_lr;
}

}  // namespace fovea::optim
