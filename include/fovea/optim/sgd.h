// Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay
// (torch.optim.SGD, PyTorch 1.13). For each parameter p with gradient g, per step t:
//
//   g = g + weight_decay * p                          (when weight_decay != 0)
//   b = g                                   at the parameter's first step with momentum
//   b = momentum * b + (1 - dampening) * g  afterwards (when momentum != 0)
//   g = nesterov ? g + momentum * b : b     (when momentum != 0)
//   p = p - lr * g
//
// Note the first buffer is g itself, not (1 - dampening) g, as in PyTorch.
#pragma once

#include <limits>
#include <map>
#include <string>
#include <vector>

#include "fovea/optim/optimizer.h"

namespace fovea::optim {

struct SGDOptions {
  // Required, as in torch (the NaN default makes the constructor ask for it).
  double lr = std::numeric_limits<double>::quiet_NaN();
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

class SGD final : public Optimizer {
 public:
  // Throws ValueError for lr, momentum or weight_decay < 0, or nesterov without momentum > 0
  // and dampening 0 (message: "SGD: lr expects a value >= 0, got -1").
  SGD(std::vector<Tensor> params, const SGDOptions& options);

  const SGDOptions& options() const { return options_; }
  double lr() const override { return options_.lr; }
  void set_lr(double lr) override;
  double momentum() const override { return options_.momentum; }
  void set_momentum(double momentum) override;

 private:
  void update() override;
  std::map<std::string, double> hyper_parameters() const override;
  void set_hyper_parameters(const std::map<std::string, double>& values) override;
  std::vector<std::string> state_keys() const override { return {"momentum_buffer"}; }

  SGDOptions options_;
};

}  // namespace fovea::optim
