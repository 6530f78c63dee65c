#include "fovea/nn/activation.h"

#include <fmt/format.h>

namespace fovea::nn {

namespace F = functional;

LeakyReLU::LeakyReLU(double slope)
    : Lambda(
          "LeakyReLU",
          [slope](const Tensor& x) { return F::leaky_relu(x, {.negative_slope = slope}); },
          fmt::format("negative_slope={}", slope)) {}

ELU::ELU(double alpha)
    : Lambda(
          "ELU", [alpha](const Tensor& x) { return F::elu(x, {.alpha = alpha}); },
          fmt::format("alpha={}", alpha)) {}

GELU::GELU(std::string approximate)
    : Lambda(
          "GELU",
          [approximate](const Tensor& x) { return F::gelu(x, {.approximate = approximate}); },
          fmt::format("approximate='{}'", approximate)) {}

Softmax::Softmax(int64_t dim)
    : Lambda(
          "Softmax", [dim](const Tensor& x) { return F::softmax(x, dim); },
          fmt::format("dim={}", dim)) {}

LogSoftmax::LogSoftmax(int64_t dim)
    : Lambda(
          "LogSoftmax", [dim](const Tensor& x) { return F::log_softmax(x, dim); },
          fmt::format("dim={}", dim)) {}

}  // namespace fovea::nn
