// Module: the base of every layer and network. Holds named parameters (tensors that require
// grad), buffers (state that is saved but not trained, like batch norm's running mean) and
// child modules; names compose with dots into PyTorch-style state-dict keys such as
// "features.0.weight" or "layer1.0.bn1.running_mean".
//
//   class Block : public nn::Module {
//    public:
//     Block() : Module("Block") {
//       conv_ = register_module("conv", std::make_shared<nn::Conv2d>(...));
//     }
//     Tensor forward(const Tensor& x) override { return F::relu(conv_->forward(x)); }
//    private:
//     std::shared_ptr<nn::Conv2d> conv_;
//   };
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fovea/tensor.h"

namespace fovea::nn {

// Ordered (name, tensor) pairs: parameters then buffers of each module, then its children,
// recursively — PyTorch's state_dict order.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual Tensor forward(const Tensor& input) = 0;
  // forward() followed by the thread's forward hooks (see ForwardHookGuard). Containers call
  // their children this way, so analysis tools see every layer.
  Tensor operator()(const Tensor& input);

  // "Conv2d"; extra_repr() gives the arguments, e.g. "3, 16, kernel_size=(3, 3)".
  const std::string& type_name() const { return type_name_; }
  virtual std::string extra_repr() const { return ""; }
  // A PyTorch-like multi-line description of the module tree.
  std::string to_string() const;

  NamedTensors named_parameters(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  NamedTensors named_buffers(bool recurse = true) const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const {
    return children_;
  }
  // Every module in the tree with its dotted name, depth first in registration order; the
  // root is "".
  std::vector<std::pair<std::string, const Module*>> named_modules() const;
  std::vector<std::pair<std::string, Module*>> named_modules();
  int64_t num_parameters() const;

  // Training mode (dropout active, batch norm uses batch statistics) for this module and
  // every descendant.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Zeroes the gradient of every parameter that has one.
  void zero_grad();

  // Parameters and buffers under their dotted names (the tensors themselves, not copies).
  NamedTensors state_dict() const;
  // Copies values into the existing tensors (so optimizers keep their handles). With strict,
  // missing or unexpected names raise ValueError listing them; shapes must always match.
  void load_state_dict(const NamedTensors& state, bool strict = true);

 protected:
  // Registers t (marked requires_grad) under `name` and returns the same handle.
  Tensor register_parameter(std::string name, Tensor t);
  Tensor register_buffer(std::string name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module) {
    add_child(std::move(name), module);
    return module;
  }

 private:
  void add_child(std::string name, std::shared_ptr<Module> module);
  void collect(const std::string& prefix, bool params, bool buffers, bool recurse,
               NamedTensors& out) const;

  std::string type_name_;
  NamedTensors parameters_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// Called after each module's forward through operator(), with its input and output:
// summaries, receptive fields and activation statistics are built on it. Thread-local;
// installed for the guard's lifetime.
using ForwardHook = std::function<void(const Module&, const Tensor& input, const Tensor& output)>;
class ForwardHookGuard {
 public:
  // Whether this thread has a hook installed: layers that skip operator() for a fused path
  // (ResNet's residual join) take it only when not.
  static bool installed();
  explicit ForwardHookGuard(ForwardHook hook);
  ~ForwardHookGuard();
  ForwardHookGuard(const ForwardHookGuard&) = delete;
  ForwardHookGuard& operator=(const ForwardHookGuard&) = delete;

 private:
  ForwardHook previous_;
};

// Runs its children in order, each on the previous one's output; children are named
// "0", "1", ... as in PyTorch.
class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  explicit Sequential(std::vector<std::shared_ptr<Module>> modules);
  // Appends a module named by its position (or by `name`); returns *this for chaining.
  Sequential& push_back(std::shared_ptr<Module> module);
  Sequential& push_back(std::string name, std::shared_ptr<Module> module);
  size_t size() const { return named_children().size(); }
  std::shared_ptr<Module> operator[](size_t i) const { return named_children().at(i).second; }
  Tensor forward(const Tensor& input) override;
};

}  // namespace fovea::nn
