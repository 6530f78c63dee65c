#include "fovea/nn/init.h"

#include <fmt/format.h>

#include <cmath>

#include "fovea/error.h"

namespace fovea::nn::init {

std::pair<int64_t, int64_t> fans(const Tensor& w) {
  if (w.dim() < 2)
    throw ValueError(fmt::format(
        "init: fan in and fan out expect a tensor of 2 or more dimensions, got shape {}",
        shape_str(w.shape())));
  int64_t receptive = 1;
  for (int64_t d = 2; d < w.dim(); ++d) receptive *= w.size(d);
  return {w.size(1) * receptive, w.size(0) * receptive};
}

float calculate_gain(const std::string& nonlinearity, float param) {
  if (nonlinearity == "linear" || nonlinearity == "sigmoid" || nonlinearity.starts_with("conv"))
    return 1.0f;
  if (nonlinearity == "tanh") return 5.0f / 3.0f;
  if (nonlinearity == "relu") return std::sqrt(2.0f);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0f / (1.0f + param * param));
  if (nonlinearity == "selu") return 0.75f;
  throw ValueError(fmt::format(
      "calculate_gain: nonlinearity expects linear, conv*, sigmoid, tanh, relu, leaky_relu or "
      "selu, got '{}'",
      nonlinearity));
}

void uniform_(Tensor& t, float lo, float hi, Generator* gen) {
  Generator& g = gen ? *gen : default_generator();
  for (float& v : t.span()) v = g.uniform(lo, hi);
}

void normal_(Tensor& t, float mean, float stddev, Generator* gen) {
  Generator& g = gen ? *gen : default_generator();
  for (float& v : t.span()) v = g.normal(mean, stddev);
}

void constant_(Tensor& t, float value) {
  t.fill_(value);
}

namespace {
float kaiming_std(const Tensor& t, float a, FanMode mode, const std::string& nonlinearity) {
  const auto [fan_in, fan_out] = fans(t);
  const float fan = static_cast<float>(mode == FanMode::kFanIn ? fan_in : fan_out);
  return calculate_gain(nonlinearity, a) / std::sqrt(fan);
}
float xavier_std(const Tensor& t, float gain) {
  const auto [fan_in, fan_out] = fans(t);
  return gain * std::sqrt(2.0f / static_cast<float>(fan_in + fan_out));
}
}  // namespace

void kaiming_uniform_(Tensor& t, float a, FanMode mode, const std::string& nonlinearity,
                      Generator* gen) {
  const float bound = std::sqrt(3.0f) * kaiming_std(t, a, mode, nonlinearity);
  uniform_(t, -bound, bound, gen);
}

void kaiming_normal_(Tensor& t, float a, FanMode mode, const std::string& nonlinearity,
                     Generator* gen) {
  normal_(t, 0.0f, kaiming_std(t, a, mode, nonlinearity), gen);
}

void xavier_uniform_(Tensor& t, float gain, Generator* gen) {
  const float bound = std::sqrt(3.0f) * xavier_std(t, gain);
  uniform_(t, -bound, bound, gen);
}

void xavier_normal_(Tensor& t, float gain, Generator* gen) {
  normal_(t, 0.0f, xavier_std(t, gain), gen);
}

void default_layer_init_(Tensor& weight, Tensor* bias, Generator* gen) {
  kaiming_uniform_(weight, std::sqrt(5.0f), FanMode::kFanIn, "leaky_relu", gen);
  if (bias && bias->defined()) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(fans(weight).first));
    uniform_(*bias, -bound, bound, gen);
  }
}

}  // namespace fovea::nn::init
