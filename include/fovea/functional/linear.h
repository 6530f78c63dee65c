// Linear (fully connected) layer, forward and backward.
//
//   y[..., o] = b[o] + sum_i x[..., i] * w[o, i]        i.e.  y = x·Wᵀ + b
// x (*, in_features), w (out_features, in_features), b (out_features), y (*, out_features).
// Any number of leading axes (including none: x (in_features) gives y (out_features)), as in
// PyTorch's F.linear.
//
// Backward, with dy of y's shape and the leading axes flattened to rows:
//   dx = dy·W      dW = dyᵀ·x      db = sum over rows of dy
//
// Usage:  namespace F = fovea::functional;
//         Tensor y = F::linear(x, w, b);
#pragma once

#include <optional>

#include "fovea/tensor.h"

namespace fovea::functional {

// Gradients with respect to the input, weight and bias; bias is undefined when has_bias is false.
struct LinearGradients {
  Tensor input, weight, bias;
};

Tensor linear(const Tensor& input, const Tensor& weight, const std::optional<Tensor>& bias = {});

// grad_output has the forward output's shape; has_bias says whether to return bias's gradient.
LinearGradients linear_backward(const Tensor& grad_output, const Tensor& input,
                                const Tensor& weight, bool has_bias);

}  // namespace fovea::functional
