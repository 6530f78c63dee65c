// Batch normalisation over (N, C), (N, C, L), (N, C, H, W) and (N, C, D, H, W) inputs, as
// PyTorch's F.batch_norm: each channel c is normalised over its N * spatial values,
//   y = (x - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c]
// Training (options.training) uses the batch's mean and biased variance and then updates the
// running estimates in place:
//   running_mean = (1 - momentum) * running_mean + momentum * mean
//   running_var  = (1 - momentum) * running_var  + momentum * var * M/(M - 1)   (unbiased)
// with M = N * spatial values per channel. Evaluation uses the running estimates instead.
//
// Usage:  namespace F = fovea::functional;
//         Tensor y = F::batch_norm(x, running_mean, running_var, gamma, beta, {.training = true});
// running_mean and running_var are shared handles (copying a Tensor shares its data), so
// passing them by value updates the caller's tensors. Pass Tensor() for both to train without
// running estimates; evaluation requires them.
#pragma once

#include <optional>

#include "fovea/functional/fused_activation.h"
#include "fovea/tensor.h"

namespace fovea::functional {

struct BatchNormOptions {
  bool training = false;
  double momentum = 0.1;  // in [0, 1]; the weight of the newest batch in the running estimates
  double eps = 1e-5;      // added to the variance, >= 0
  FusedActivation activation = FusedActivation::kNone;  // applied as the outputs are stored
};

// What the backward needs, saved by the forward: per-channel (C) mean and 1/sqrt(var + eps)
// of the batch (training) or of the running estimates (evaluation).
struct BatchNormForward {
  Tensor output, save_mean, save_invstd;
};

struct BatchNormGradients {
  Tensor input, weight, bias;
};

Tensor batch_norm(const Tensor& input, Tensor running_mean, Tensor running_var,
                  const std::optional<Tensor>& weight = {}, const std::optional<Tensor>& bias = {},
                  const BatchNormOptions& options = {});

// batch_norm that also returns the statistics it normalised with, for batch_norm_backward.
BatchNormForward batch_norm_forward(const Tensor& input, Tensor running_mean, Tensor running_var,
                                    const std::optional<Tensor>& weight = {},
                                    const std::optional<Tensor>& bias = {},
                                    const BatchNormOptions& options = {});

// Gradients with respect to the input, weight and bias, given the forward's input and saved
// statistics. In training mode the input gradient flows through the batch statistics too;
// in evaluation mode the layer is the affine map x * weight*invstd + const. Weight and bias
// gradients (sum dy * xhat and sum dy) are returned even when the layer has no weight or
// bias: they are by-products of the input gradient. Only options.training is read.
BatchNormGradients batch_norm_backward(const Tensor& grad_output, const Tensor& input,
                                       const std::optional<Tensor>& weight, const Tensor& save_mean,
                                       const Tensor& save_invstd,
                                       const BatchNormOptions& options = {});

}  // namespace fovea::functional
