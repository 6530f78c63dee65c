// Activation modules: stateless wrappers of fovea::functional's activations, named as in
// PyTorch (their state dicts are empty).
#pragma once

#include <functional>
#include <string>

#include "fovea/functional/activation.h"
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

struct ReLU : Lambda {
  ReLU() : Lambda("ReLU", functional::relu) {}
};
struct ReLU6 : Lambda {
  ReLU6() : Lambda("ReLU6", functional::relu6) {}
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
