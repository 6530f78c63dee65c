// Linear, Flatten, Identity and Dropout modules.
#pragma once

#include "fovea/functional/dropout.h"
#include "fovea/nn/module.h"

namespace fovea::nn {

// y = x·weightᵀ + bias; weight (out_features, in_features), bias (out_features).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  Tensor weight, bias;

 private:
  int64_t in_features_, out_features_;
};

// Flattens dimensions start_dim..end_dim into one (default: all but the batch).
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1)
      : Module("Flatten"), start_dim_(start_dim), end_dim_(end_dim) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

 private:
  int64_t start_dim_, end_dim_;
};

class Identity : public Module {
 public:
  Identity() : Module("Identity") {}
  Tensor forward(const Tensor& x) override { return x; }
};

// Zeroes each element with probability p in training mode (scaling the rest by 1/(1-p));
// the identity in evaluation mode. Draws from `generator` (the global one by default).
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, Generator* generator = nullptr);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

 private:
  double p_;
  Generator* generator_;
};

}  // namespace fovea::nn
