// Shape and elementwise ops, forward and backward: flatten, add/sub/mul with broadcasting,
// scalar add/sub/mul, sum and mean (all elements or over dims), and concatenation.
//
// Broadcasting follows NumPy and PyTorch: shapes are aligned on the right and each pair of
// sizes must be equal or contain a 1, which is stretched; the result has the larger rank.
//   (N, C, H, W) * (1, C, 1, 1) -> (N, C, H, W)     per-channel scale
//   (N, C) + (C)                -> (N, C)           bias
//   (N, 1) - (1, M)             -> (N, M)           both operands stretched
// The backward of a broadcast sums the gradient over the stretched axes, back to the
// operand's own shape.
//
// Usage:  namespace F = fovea::functional;
//         Tensor y = F::add(F::mul(x, scale), shift);   // scale, shift (1, C, 1, 1)
//         Tensor m = F::mean(x, {2, 3});                // global average pool: (N, C)
//         Tensor z = F::cat({a, b}, 1);                 // channels side by side
#pragma once

#include <cstdint>
#include <vector>

#include "fovea/functional/fused_activation.h"
#include "fovea/tensor.h"

namespace fovea::functional {

// Axes start_dim..end_dim (inclusive, negative counts from the end) merged into one; the
// result shares the input's storage, like PyTorch's view. The default start_dim = 1 keeps the
// batch axis (nn.Flatten's default; torch.flatten's is 0). A 0-dim input counts as shape [1].
Tensor flatten(const Tensor& input, int64_t start_dim = 1, int64_t end_dim = -1);
// grad_output reshaped back to the input's shape.
Tensor flatten_backward(const Tensor& grad_output, const Shape& input_shape);

// Gradients of a loss with respect to both operands of a binary op, each of its own shape.
struct BinaryGradients {
  Tensor a, b;
};

// a op b, broadcast.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
// activation(a + b): with no gradient to record, one pass over the output instead of two
// (ResNet's residual join, relu(out + identity)); under autograd the add, then the activation
// as its own op (like FusedActivation on a convolution).
Tensor add(const Tensor& a, const Tensor& b, FusedActivation activation);
// d/da = grad_output, d/db = ±grad_output, each summed to its operand's shape.
BinaryGradients add_backward(const Tensor& grad_output, const Shape& a_shape, const Shape& b_shape);
BinaryGradients sub_backward(const Tensor& grad_output, const Shape& a_shape, const Shape& b_shape);
// d/da = grad_output * b, d/db = grad_output * a, each summed to its operand's shape.
BinaryGradients mul_backward(const Tensor& grad_output, const Tensor& a, const Tensor& b);

// a op scalar. The gradient of add and sub with a scalar is grad_output itself; mul's is
// mul_backward(grad_output, b) = grad_output * b.
Tensor add(const Tensor& a, float b);
Tensor sub(const Tensor& a, float b);
Tensor mul(const Tensor& a, float b);
Tensor mul_backward(const Tensor& grad_output, float b);

// Sum or mean over the axes in dim (negative counts from the end); an empty dim means every
// axis, giving a 0-dim tensor unless keepdim. keepdim leaves each reduced axis as size 1.
// The mean of no elements is NaN, as in PyTorch.
Tensor sum(const Tensor& input, const std::vector<int64_t>& dim = {}, bool keepdim = false);
Tensor sum(const Tensor& input, int64_t dim, bool keepdim = false);
Tensor mean(const Tensor& input, const std::vector<int64_t>& dim = {}, bool keepdim = false);
Tensor mean(const Tensor& input, int64_t dim, bool keepdim = false);
// grad_output (the forward result's shape) spread back over input_shape (divided by the
// number of elements averaged, for mean).
Tensor sum_backward(const Tensor& grad_output, const Shape& input_shape,
                    const std::vector<int64_t>& dim = {}, bool keepdim = false);
Tensor mean_backward(const Tensor& grad_output, const Shape& input_shape,
                     const std::vector<int64_t>& dim = {}, bool keepdim = false);

// The tensors joined along dim (negative counts from the end); all must have the same rank and
// the same sizes on every other axis.
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
// grad_output cut back into the pieces: sizes[i] is input i's size along dim.
std::vector<Tensor> cat_backward(const Tensor& grad_output, const std::vector<int64_t>& sizes,
                                 int64_t dim = 0);

}  // namespace fovea::functional
