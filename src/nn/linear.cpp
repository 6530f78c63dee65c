#include "fovea/nn/linear.h"

#include <fmt/format.h>

#include <cmath>

#include "fovea/error.h"
#include "fovea/functional/elementwise.h"
#include "fovea/functional/linear.h"
#include "fovea/nn/init.h"

namespace fovea::nn {

namespace F = functional;

Linear::Linear(int64_t in_features, int64_t out_features, bool with_bias)
    : Module("Linear"), in_features_(in_features), out_features_(out_features) {
  if (in_features < 1 || out_features < 1)
    throw ValueError(
        fmt::format("Linear: in_features and out_features expect values >= 1, got {}, {}",
                    in_features, out_features));
  Tensor w = Tensor::empty({out_features, in_features});
  Tensor b = with_bias ? Tensor::empty({out_features}) : Tensor();
  init::default_layer_init_(w, with_bias ? &b : nullptr);
  weight = register_parameter("weight", w);
  if (with_bias) bias = register_parameter("bias", b);
}

Tensor Linear::forward(const Tensor& x) {
  return F::linear(x, weight, bias.defined() ? std::optional<Tensor>(bias) : std::nullopt);
}

std::string Linear::extra_repr() const {
  return fmt::format("in_features={}, out_features={}, bias={}", in_features_, out_features_,
                     bias.defined() ? "True" : "False");
}

Tensor Flatten::forward(const Tensor& x) {
  return F::flatten(x, start_dim_, end_dim_);
}

std::string Flatten::extra_repr() const {
  return fmt::format("start_dim={}, end_dim={}", start_dim_, end_dim_);
}

Dropout::Dropout(double p, Generator* generator) : Module("Dropout"), p_(p), generator_(generator) {
  if (!(p >= 0.0 && p <= 1.0))
    throw ValueError(fmt::format("Dropout: p expects a probability in [0, 1], got {}", p));
}

Tensor Dropout::forward(const Tensor& x) {
  return F::dropout(x, {.p = p_, .training = is_training()}, generator_).output;
}

std::string Dropout::extra_repr() const {
  return fmt::format("p={}", p_);
}

}  // namespace fovea::nn
