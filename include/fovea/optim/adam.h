// Adam and AdamW (torch.optim.Adam / AdamW, PyTorch 1.13 single-tensor implementation). For
// each parameter p with gradient g, at its own step count t = 1, 2, ...:
//
//   Adam:  g = g + weight_decay * p            (L2 penalty, when weight_decay != 0)
//   AdamW: p = p * (1 - lr * weight_decay)     (decoupled decay, before the moments)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g^2
//   v_max = max(v_max, v)                      (amsgrad; the denominator uses v_max)
//   denom = sqrt(v) / sqrt(1 - beta2^t) + eps
//   p = p - lr / (1 - beta1^t) * m / denom
//
// eps is added after the bias correction of sqrt(v), as PyTorch does (not to sqrt(v_hat)
// before it). A parameter skipped for lack of a gradient does not advance its t.
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

#include "fovea/optim/optimizer.h"

namespace fovea::optim {

struct AdamOptions {
  double lr = 1e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;  // L2 penalty added to the gradient
  bool amsgrad = false;
};

// AdamW's options differ only in the default weight decay, which is decoupled.
struct AdamWOptions {
  double lr = 1e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
};

class Adam : public Optimizer {
 public:
  // Throws ValueError for lr, eps or weight_decay < 0, or betas outside [0, 1)
  // (message: "Adam: betas[0] expects a value in [0, 1), got 1").
  Adam(std::vector<Tensor> params, const AdamOptions& options);

  const AdamOptions& options() const { return options_; }
  double lr() const override { return options_.lr; }
  void set_lr(double lr) override;
  double momentum() const override { return options_.betas[0]; }
  void set_momentum(double beta1) override;

 protected:
  Adam(std::string name, std::vector<Tensor> params, const AdamOptions& options, bool decoupled);

 private:
  void update() override;
  std::map<std::string, double> hyper_parameters() const override;
  void set_hyper_parameters(const std::map<std::string, double>& values) override;
  std::vector<std::string> state_keys() const override;
  // Throws ValueError naming this optimizer unless o is valid.
  void check(const AdamOptions& o) const;

  AdamOptions options_;
  bool decoupled_;  // AdamW
};

class AdamW final : public Adam {
 public:
  AdamW(std::vector<Tensor> params, const AdamWOptions& options = {});
};

}  // namespace fovea::optim
