// Hard constraints on weights and clipping of gradients, applied between backward() and
// step() (clipping) or after step() (constraints). All work in place, outside autograd.
#pragma once

#include <cstdint>
#include <vector>

#include "fovea/tensor.h"

namespace fovea::optim {

// The max-norm constraint (torch.renorm(weight, norm_type, dim, max_norm), in place): every
// slice weight.select(dim, i) whose norm_type-norm exceeds max_norm is scaled by
// max_norm / (norm + 1e-7); the others are left alone. With dim = 0 a slice is one output
// filter of a conv or linear weight. norm_type may be infinity.
// Throws ShapeError for weights of rank < 2 (biases: pass weights only) or dim out of range,
// ValueError for max_norm < 0 or norm_type <= 0.
Tensor& max_norm_(Tensor& weight, double max_norm, int64_t dim = 0, double norm_type = 2.0);
void max_norm_(const std::vector<Tensor>& weights, double max_norm, int64_t dim = 0,
               double norm_type = 2.0);

// torch.nn.utils.clip_grad_norm_: the norm_type-norm of all gradients together (parameters
// without a gradient are ignored) is returned, and when it exceeds max_norm every gradient is
// scaled by max_norm / (total_norm + 1e-6). Returns 0 when no parameter has a gradient.
// norm_type may be infinity (the largest |g|). error_if_nonfinite throws ValueError when the
// total norm is NaN or infinite; otherwise such gradients are scaled anyway, as in PyTorch.
// Throws ValueError for max_norm < 0 or norm_type <= 0 (PyTorch accepts both; a negative
// max_norm would flip the gradients' sign).
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

// torch.nn.utils.clip_grad_value_: clamps every gradient element to [-clip_value, clip_value]
// (NaN stays NaN). Throws ValueError for clip_value < 0.
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace fovea::optim
