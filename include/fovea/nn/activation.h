// Activation modules: stateless wrappers of fovea::functional's activations, named as in
// PyTorch (their state dicts are empty).
#pragma once

#include <functional>
#include <string>

#include "fovea/functional/activation.h"
#include "fovea/functional/fused_activation.h"
#include "fovea/nn/module.h"

namespace fovea::nn {

// A module applying one stateless function; `repr` is what to_string() shows inside ().
class Lambda : public Module {
 public:
  using Fn = std::function<Tensor(const Tensor&)>;
  Lambda(std::string type_name, Fn fn, std::string repr = "")
      : Module(std::move(type_name)), fn_(std::move(fn)), repr_(std::move(repr)) {}
  Tensor forward(const Tensor& x) override { return fn_(x); }
  std::string extra_repr() const override { return repr_; }

 private:
  Fn fn_;
  std::string repr_;
};

// An activation the layer before it (a convolution or a batch norm) can apply as it stores its
// outputs (nn::fuse_activations). Once fused, the module passes its input through: that layer
// already applied it, in training mode too (there it runs as its own op, so gradients are
// unchanged).
class FusableActivation : public Lambda {
 public:
  FusableActivation(std::string type_name, Fn fn, functional::FusedActivation kind)
      : Lambda(std::move(type_name), std::move(fn)), kind_(kind) {}
  Tensor forward(const Tensor& x) override { return fused_ ? x : Lambda::forward(x); }
  std::string extra_repr() const override { return fused_ ? "fused" : ""; }
  functional::FusedActivation kind() const { return kind_; }
  void mark_fused() { fused_ = true; }
  bool fused() const { return fused_; }

 private:
  functional::FusedActivation kind_;
  bool fused_ = false;
};

struct ReLU : FusableActivation {
  ReLU() : FusableActivation("ReLU", functional::relu, functional::FusedActivation::kRelu) {}
};
struct ReLU6 : FusableActivation {
  ReLU6() : FusableActivation("ReLU6", functional::relu6, functional::FusedActivation::kRelu6) {}
};
struct Sigmoid : Lambda {
  Sigmoid() : Lambda("Sigmoid", functional::sigmoid) {}
};
struct Tanh : Lambda {
  Tanh() : Lambda("Tanh", functional::tanh) {}
};
struct SiLU : Lambda {
  SiLU() : Lambda("SiLU", functional::silu) {}
};
struct Hardswish : Lambda {
  Hardswish() : Lambda("Hardswish", functional::hardswish) {}
};
struct Hardsigmoid : Lambda {
  Hardsigmoid() : Lambda("Hardsigmoid", functional::hardsigmoid) {}
};
struct LeakyReLU : Lambda {
  explicit LeakyReLU(double negative_slope = 0.01);
};
struct ELU : Lambda {
  explicit ELU(double alpha = 1.0);
};
struct GELU : Lambda {
  explicit GELU(std::string approximate = "none");
};
struct Softmax : Lambda {
  explicit Softmax(int64_t dim = 1);
};
struct LogSoftmax : Lambda {
  explicit LogSoftmax(int64_t dim = 1);
};

}  // namespace fovea::nn
