#include "fovea/nn/module.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "fovea/autograd.h"
#include "fovea/error.h"

namespace fovea::nn {
namespace {

thread_local ForwardHook g_forward_hook;

std::string join_name(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

void check_name(const std::string& module, const std::string& kind, const std::string& name) {
  if (name.empty() || name.find('.') != std::string::npos)
    throw ValueError(fmt::format("{}: {} name expects a non-empty name without '.', got '{}'",
                                 module, kind, name));
}

}  // namespace

bool ForwardHookGuard::installed() {
  return static_cast<bool>(g_forward_hook);
}
ForwardHookGuard::ForwardHookGuard(ForwardHook hook) : previous_(std::move(g_forward_hook)) {
  g_forward_hook = std::move(hook);
}
ForwardHookGuard::~ForwardHookGuard() {
  g_forward_hook = std::move(previous_);
}

Tensor Module::operator()(const Tensor& input) {
  Tensor output = forward(input);
  if (g_forward_hook) g_forward_hook(*this, input, output);
  return output;
}

Tensor Module::register_parameter(std::string name, Tensor t) {
  check_name(type_name_, "parameter", name);
  t.requires_grad_(true);
  parameters_.emplace_back(std::move(name), t);
  return t;
}

Tensor Module::register_buffer(std::string name, Tensor t) {
  check_name(type_name_, "buffer", name);
  buffers_.emplace_back(std::move(name), t);
  return t;
}

void Module::add_child(std::string name, std::shared_ptr<Module> module) {
  check_name(type_name_, "module", name);
  if (!module) throw ValueError(fmt::format("{}: module '{}' is null", type_name_, name));
  children_.emplace_back(std::move(name), std::move(module));
}

void Module::collect(const std::string& prefix, bool params, bool buffers, bool recurse,
                     NamedTensors& out) const {
  if (params)
    for (const auto& [name, t] : parameters_) out.emplace_back(join_name(prefix, name), t);
  if (buffers)
    for (const auto& [name, t] : buffers_) out.emplace_back(join_name(prefix, name), t);
  if (recurse)
    for (const auto& [name, child] : children_)
      child->collect(join_name(prefix, name), params, buffers, true, out);
}

NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors out;
  collect("", true, false, recurse, out);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors out;
  collect("", false, true, recurse, out);
  return out;
}

std::vector<std::pair<std::string, const Module*>> Module::named_modules() const {
  std::vector<std::pair<std::string, const Module*>> out{{"", this}};
  for (const auto& [name, child] : children_)
    for (auto& [sub, m] : std::as_const(*child).named_modules())
      out.emplace_back(sub.empty() ? name : join_name(name, sub), m);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  // The same walk; every module reached from a non-const root may be modified.
  std::vector<std::pair<std::string, Module*>> out;
  for (auto& [name, m] : std::as_const(*this).named_modules())
    out.emplace_back(std::move(name), const_cast<Module*>(m));
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (auto& [name, t] : named_parameters()) {
    Tensor g = t.grad();
    if (g.defined()) g.fill_(0.0f);
  }
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  collect("", true, true, true, out);
  return out;
}

void Module::load_state_dict(const NamedTensors& state, bool strict) {
  std::map<std::string, const Tensor*> given;
  for (const auto& [name, t] : state) given[name] = &t;
  std::vector<std::string> missing;
  std::set<std::string> used;
  for (auto& [name, t] : state_dict()) {
    auto it = given.find(name);
    if (it == given.end()) {
      missing.push_back(name);
      continue;
    }
    used.insert(name);
    const Tensor& src = *it->second;
    if (src.shape() != t.shape())
      throw ShapeError(fmt::format("load_state_dict: '{}' expects shape {}, got {}", name,
                                   shape_str(t.shape()), shape_str(src.shape())));
    std::copy_n(src.data(), src.numel(), t.data());
  }
  if (!strict) return;
  std::vector<std::string> unexpected;
  for (const auto& [name, t] : state)
    if (!used.contains(name)) unexpected.push_back(name);
  if (!missing.empty() || !unexpected.empty())
    throw ValueError(fmt::format(
        "load_state_dict: state expects exactly the model's keys; missing: [{}]; unexpected: [{}]",
        fmt::join(missing, ", "), fmt::join(unexpected, ", ")));
}

std::string Module::to_string() const {
  if (children_.empty()) return fmt::format("{}({})", type_name_, extra_repr());
  std::string s = type_name_ + "(\n";
  for (const auto& [name, child] : children_) {
    std::string sub = child->to_string();
    // Indent the child's continuation lines by two spaces.
    for (size_t pos = sub.find('\n'); pos != std::string::npos; pos = sub.find('\n', pos + 1))
      sub.insert(pos + 1, "  ");
    s += fmt::format("  ({}): {}\n", name, sub);
  }
  return s + ")";
}

Sequential::Sequential(std::vector<std::shared_ptr<Module>> modules) : Sequential() {
  for (auto& m : modules) push_back(std::move(m));
}

Sequential& Sequential::push_back(std::shared_ptr<Module> module) {
  return push_back(std::to_string(size()), std::move(module));
}

Sequential& Sequential::push_back(std::string name, std::shared_ptr<Module> module) {
  register_module(std::move(name), std::move(module));
  return *this;
}

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (const auto& [name, child] : named_children()) x = (*child)(x);
  return x;
}

}  // namespace fovea::nn
