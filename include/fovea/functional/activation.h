// Elementwise activations and softmax, forward and backward, on tensors of any shape.
//
//   relu(x)        = max(x, 0)                  relu6(x)       = min(max(x, 0), 6)
//   leaky_relu(x)  = x > 0 ? x : slope*x        elu(x)         = x > 0 ? x : alpha*(e^x - 1)
//   gelu(x)        = x * Phi(x)  (Phi the standard normal CDF; approximate = "tanh" uses
//                    x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))))
//   silu(x)        = x * sigmoid(x)             sigmoid(x)     = 1 / (1 + e^-x)
//   tanh(x)                                     hardswish(x)   = x * relu6(x + 3) / 6
//   hardsigmoid(x) = relu6(x + 3) / 6
// Each backward returns grad_output * f'(x) and takes what f' needs, as PyTorch saves it: the
// output for relu, relu6, sigmoid and tanh, the input for the others. At the kinks f' is
// PyTorch's: relu'(0) = 0, relu6'(0) = relu6'(6) = 0, leaky_relu'(0) = slope, elu'(0) = alpha,
// hardswish'(-3) = -1/2, hardswish'(3) = 1, hardsigmoid'(-3) = hardsigmoid'(3) = 0.
//
// Softmax along dim (negative counts from the end), computed after subtracting the maximum:
//   softmax(x)_k = e^x_k / sum_j e^x_j          log_softmax(x)_k = x_k - log sum_j e^x_j
// and their backward from the forward's output y:
//   softmax: y * (g - sum(g * y))               log_softmax: g - e^y * sum(g)
//
// Usage:  namespace F = fovea::functional;
//         Tensor y = F::gelu(x, {.approximate = "tanh"});
//         Tensor dx = F::gelu_backward(dy, x, {.approximate = "tanh"});
#pragma once

#include <cstdint>
#include <string>

#include "fovea/tensor.h"

namespace fovea::functional {

struct LeakyReluOptions {
  double negative_slope = 0.01;
};
struct EluOptions {
  double alpha = 1.0;
};
struct GeluOptions {
  std::string approximate = "none";  // "none" (the exact erf form) or "tanh"
};

Tensor relu(const Tensor& input);
Tensor relu_backward(const Tensor& grad_output, const Tensor& output);

Tensor relu6(const Tensor& input);
Tensor relu6_backward(const Tensor& grad_output, const Tensor& output);

Tensor leaky_relu(const Tensor& input, const LeakyReluOptions& options = {});
Tensor leaky_relu_backward(const Tensor& grad_output, const Tensor& input,
                           const LeakyReluOptions& options = {});

Tensor elu(const Tensor& input, const EluOptions& options = {});
Tensor elu_backward(const Tensor& grad_output, const Tensor& input, const EluOptions& options = {});

Tensor gelu(const Tensor& input, const GeluOptions& options = {});
Tensor gelu_backward(const Tensor& grad_output, const Tensor& input,
                     const GeluOptions& options = {});

Tensor silu(const Tensor& input);
Tensor silu_backward(const Tensor& grad_output, const Tensor& input);

Tensor sigmoid(const Tensor& input);
Tensor sigmoid_backward(const Tensor& grad_output, const Tensor& output);

Tensor tanh(const Tensor& input);
Tensor tanh_backward(const Tensor& grad_output, const Tensor& output);

Tensor hardswish(const Tensor& input);
Tensor hardswish_backward(const Tensor& grad_output, const Tensor& input);

Tensor hardsigmoid(const Tensor& input);
Tensor hardsigmoid_backward(const Tensor& grad_output, const Tensor& input);

// dim in [-rank, rank) (a 0-dimensional input takes 0 or -1, as in PyTorch).
Tensor softmax(const Tensor& input, int64_t dim);
Tensor softmax_backward(const Tensor& grad_output, const Tensor& output, int64_t dim);

Tensor log_softmax(const Tensor& input, int64_t dim);
Tensor log_softmax_backward(const Tensor& grad_output, const Tensor& output, int64_t dim);

}  // namespace fovea::functional
