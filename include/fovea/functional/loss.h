// Losses, forward and backward, matching PyTorch 1.13 (torch.nn.functional).
//
// Classification, input (N, C) or (N, C, d1, ...) or unbatched (C); target (N) or
// (N, d1, ...) or (): class indices stored as float32 (exact integers, below 2^24). With p the
// softmax of the logits x over C, w the class weights (all 1 when not given), t the target,
// eps = label_smoothing and elements whose target equals ignore_index contributing nothing:
//   nll_loss:       l_i = -w[t_i] * input[i, t_i]                  (input holds log-probabilities)
//   cross_entropy:  l_i = (1 - eps) * -w[t_i] log p[i, t_i]  +  eps/C * sum_c -w[c] log p[i, c]
// Reduction mean divides the sum by sum_i w[t_i] over the elements not ignored (not by the
// element count), for the smoothing term too, as PyTorch does; when every element is ignored
// it is 0/0 = NaN.
//
// Regression, input and target of one shape:
//   mse_loss:                          l_i = (x_i - y_i)^2
//   binary_cross_entropy_with_logits:  l_i = -weight_i * (pos_weight_i * y_i * log sigmoid(x_i)
//                                                         + (1 - y_i) * log(1 - sigmoid(x_i)))
// computed as (1 - y) x + (1 + (pos_weight - 1) y) * softplus(-x), which never overflows.
// weight and pos_weight broadcast to the input (pos_weight typically (C) for input (N, C)).
// Reduction mean divides by the element count.
//
// Every loss returns a 0-dim tensor for mean and sum, the target's shape for none. Each
// backward takes grad_output of that shape and returns the gradient with respect to the input
// (logits for cross_entropy). Targets get no gradient (mse_loss's would be the negative).
//
// Usage:  namespace F = fovea::functional;
//         Tensor loss = F::cross_entropy(logits, labels, {.label_smoothing = 0.1f});
//         Tensor dx = F::cross_entropy_backward(Tensor::ones({}), logits, labels,
//                                               {.label_smoothing = 0.1f});
#pragma once

#include <cstdint>
#include <optional>

#include "fovea/tensor.h"

namespace fovea::functional {

enum class Reduction { kNone, kMean, kSum };

struct NllLossOptions {
  std::optional<Tensor> weight = std::nullopt;  // (C): one weight per class
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::kMean;
};

struct CrossEntropyOptions {
  std::optional<Tensor> weight = std::nullopt;  // (C): one weight per class
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::kMean;
  float label_smoothing = 0.0f;  // in [0, 1]
};

struct MseLossOptions {
  Reduction reduction = Reduction::kMean;
};

struct BinaryCrossEntropyWithLogitsOptions {
  // Broadcast to the input: rescales each element's loss.
  std::optional<Tensor> weight = std::nullopt;
  Reduction reduction = Reduction::kMean;
  // Broadcast to the input: the weight of the positive term (typically one per class).
  std::optional<Tensor> pos_weight = std::nullopt;
};

Tensor nll_loss(const Tensor& input, const Tensor& target, const NllLossOptions& options = {});
Tensor nll_loss_backward(const Tensor& grad_output, const Tensor& input, const Tensor& target,
                         const NllLossOptions& options = {});

Tensor cross_entropy(const Tensor& input, const Tensor& target,
                     const CrossEntropyOptions& options = {});
Tensor cross_entropy_backward(const Tensor& grad_output, const Tensor& input, const Tensor& target,
                              const CrossEntropyOptions& options = {});

Tensor mse_loss(const Tensor& input, const Tensor& target, const MseLossOptions& options = {});
Tensor mse_loss_backward(const Tensor& grad_output, const Tensor& input, const Tensor& target,
                         const MseLossOptions& options = {});

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BinaryCrossEntropyWithLogitsOptions& options = {});
Tensor binary_cross_entropy_with_logits_backward(
    const Tensor& grad_output, const Tensor& input, const Tensor& target,
    const BinaryCrossEntropyWithLogitsOptions& options = {});

}  // namespace fovea::functional
