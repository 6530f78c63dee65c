// Weight initialisers, in place, as torch.nn.init. fan_in/fan_out of a weight of shape
// (out, in, *kernel) are in*prod(kernel) and out*prod(kernel); of a (out, in) matrix, in and out.
//   kaiming (He):  std = gain / sqrt(fan),   gain = sqrt(2 / (1 + a^2)) for leaky_relu(a)
//   xavier (Glorot): std = gain * sqrt(2 / (fan_in + fan_out))
// Uniform variants draw from [-bound, bound] with bound = sqrt(3) * std.
#pragma once

#include <string>
#include <utility>

#include "fovea/random.h"
#include "fovea/tensor.h"

namespace fovea::nn::init {

enum class FanMode { kFanIn, kFanOut };

// (fan_in, fan_out) of a weight of rank >= 2 (ValueError otherwise).
std::pair<int64_t, int64_t> fans(const Tensor& weight);

// Gain for a nonlinearity as torch.nn.init.calculate_gain: "linear", "conv", "sigmoid" 1,
// "tanh" 5/3, "relu" sqrt(2), "leaky_relu" sqrt(2/(1+a^2)), "selu" 3/4.
float calculate_gain(const std::string& nonlinearity, float param = 0.01f);

void uniform_(Tensor& t, float lo, float hi, Generator* gen = nullptr);
void normal_(Tensor& t, float mean, float stddev, Generator* gen = nullptr);
void constant_(Tensor& t, float value);
void kaiming_uniform_(Tensor& t, float a = 0.0f, FanMode mode = FanMode::kFanIn,
                      const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);
void kaiming_normal_(Tensor& t, float a = 0.0f, FanMode mode = FanMode::kFanIn,
                     const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);
void xavier_uniform_(Tensor& t, float gain = 1.0f, Generator* gen = nullptr);
void xavier_normal_(Tensor& t, float gain = 1.0f, Generator* gen = nullptr);

// PyTorch's default for Conv*d, ConvTranspose*d and Linear: weight kaiming_uniform_(a=sqrt(5)),
// i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
// For transposed convolutions pass the weight as stored; fan_in is computed from dim 1 as
// PyTorch does.
void default_layer_init_(Tensor& weight, Tensor* bias, Generator* gen = nullptr);

}  // namespace fovea::nn::init
