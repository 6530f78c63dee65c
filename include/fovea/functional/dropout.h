// Dropout (inverted, as PyTorch's F.dropout): in training each element is zeroed with
// probability p and the survivors are scaled by 1/(1 - p), so the expected output is the
// input and evaluation is the identity:
//   mask[i] = (u[i] < p ? 0 : 1/(1 - p)),  u[i] uniform in [0, 1)     output = input * mask
// The draws come from `generator` (or the global one, fovea::default_generator()), one per
// element in order, so a seed fixes the mask. The backward multiplies by the same mask.
//
// Usage:  namespace F = fovea::functional;
//         Generator gen(42);
//         auto [y, mask] = F::dropout(x, {.p = 0.3}, &gen);
//         Tensor dx = F::dropout_backward(dy, mask);
#pragma once

#include "fovea/random.h"
#include "fovea/tensor.h"

namespace fovea::functional {

struct DropoutOptions {
  double p = 0.5;  // probability of zeroing an element, in [0, 1]
  bool training = true;
};

// mask holds 0 or 1/(1 - p) per element. When dropout is the identity (evaluation, or
// p = 0) no mask is drawn: mask is undefined and output shares the input's data.
struct DropoutForward {
  Tensor output, mask;
};

DropoutForward dropout(const Tensor& input, const DropoutOptions& options = {},
                       Generator* generator = nullptr);

// grad_output * mask; an undefined mask (the identity) returns grad_output itself.
Tensor dropout_backward(const Tensor& grad_output, const Tensor& mask);

}  // namespace fovea::functional
