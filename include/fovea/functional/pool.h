// Pooling, 1D/2D/3D, forward and backward: max (with argmax indices), average, power-average
// (Lp), adaptive average and max, global average and max, and max-unpooling.
//
// x (N, C, *spatial) -> y (N, C, *out), each (n, c) plane on its own; an unbatched input
// (C, *spatial) gives an unbatched output, as in PyTorch. Along each spatial axis output o
// reads the window of input positions
//   i = o*stride - padding + k*dilation,  k = 0 .. kernel_size-1
// and the output size is
//   out = floor_or_ceil((in + 2*padding - dilation*(kernel_size-1) - 1) / stride) + 1
// where ceil_mode rounds up but drops a last window that would start beyond the input and its
// left padding (PyTorch's rule: (out-1)*stride < in + padding). Padding may be at most half the
// kernel (kernel_size/2, rounded down); max pools pad with -inf, average pools with zeros.
//
//   max_pool   y = max over the window; indices = where the max came from, as a flat position
//              inside the input plane, (d*H + h)*W + w (PyTorch's convention). The gradient
//              goes only to those positions (summed where windows overlap). Ties go to the first
//              position in (d, h, w) order; NaN wins.
//   avg_pool   y = sum over the window / divisor: divisor_override if given, else the window's
//              size counting padding (count_include_pad) or only the positions inside the input
//              (count_include_pad = false). ceil_mode's extra windows never count positions
//              beyond the padding.
//   lp_pool    y = (K * avg_pool(x^p))^(1/p), K = prod(kernel_size), no padding: (sum x^p)^(1/p)
//              for windows inside the input. Computed exactly as PyTorch does, so negative
//              window sums (odd or fractional p with negative inputs) give NaN, and a window of
//              zeros gives 0 with zero gradient.
//   adaptive   output o along an axis pools [floor(o*in/out), ceil((o+1)*in/out)): windows
//              that cover the input, overlapping when out does not divide in.
//   global     adaptive pooling to size 1 along every spatial axis: (N, C, *) -> (N, C, 1, ..).
//   max_unpool y = zeros of the output size with y[indices[i]] = x[i] per plane: max_pool's
//              partial inverse. Default output size (in-1)*stride - 2*padding + kernel_size.
//
// Indices are float32 tensors holding exact integers (PyTorch uses int64): planes are limited
// to 2^24 elements so every index is exact.
//
// Usage:  namespace F = fovea::functional;
//         Tensor y = F::max_pool2d(x, {.kernel_size = 3, .stride = 2, .padding = 1});
//         auto [y, indices] = F::max_pool2d_with_indices(x, {.kernel_size = 2});
//         Tensor dx = F::max_pool2d_backward(dy, x.shape(), indices, {.kernel_size = 2});
#pragma once

#include <cstdint>
#include <optional>

#include "fovea/expanding_array.h"
#include "fovea/tensor.h"

namespace fovea::functional {

// kernel_size has no default: every pool names its window; stride defaults to it.
template <int D>
struct MaxPoolOptions {
  ExpandingArray<D> kernel_size;
  ExpandingArray<D> stride = kernel_size;
  ExpandingArray<D> padding = 0;  // -inf, at most kernel_size/2
  ExpandingArray<D> dilation = 1;
  bool ceil_mode = false;
};
using MaxPool1dOptions = MaxPoolOptions<1>;
using MaxPool2dOptions = MaxPoolOptions<2>;
using MaxPool3dOptions = MaxPoolOptions<3>;

template <int D>
struct AvgPoolOptions {
  ExpandingArray<D> kernel_size;
  ExpandingArray<D> stride = kernel_size;
  ExpandingArray<D> padding = 0;  // zeros, at most kernel_size/2
  bool ceil_mode = false;
  bool count_include_pad = true;
  std::optional<int64_t> divisor_override = std::nullopt;  // nonzero
};
using AvgPool1dOptions = AvgPoolOptions<1>;
using AvgPool2dOptions = AvgPoolOptions<2>;
using AvgPool3dOptions = AvgPoolOptions<3>;

template <int D>
struct LpPoolOptions {
  ExpandingArray<D> kernel_size;
  ExpandingArray<D> stride = kernel_size;
  bool ceil_mode = false;
};
using LpPool1dOptions = LpPoolOptions<1>;
using LpPool2dOptions = LpPoolOptions<2>;
using LpPool3dOptions = LpPoolOptions<3>;

// The options of the max_pool being inverted, and optionally the exact output size: D spatial
// sizes, or a full (N, C, *spatial) shape, each strictly within stride of the default.
template <int D>
struct MaxUnpoolOptions {
  ExpandingArray<D> kernel_size;
  ExpandingArray<D> stride = kernel_size;
  ExpandingArray<D> padding = 0;
  std::optional<Shape> output_size = std::nullopt;
};
using MaxUnpool1dOptions = MaxUnpoolOptions<1>;
using MaxUnpool2dOptions = MaxUnpoolOptions<2>;
using MaxUnpool3dOptions = MaxUnpoolOptions<3>;

// A max pool's output and its argmax indices (same shape), for backward and max_unpool.
struct MaxPoolResult {
  Tensor output, indices;
};

// --- max pooling ---------------------------------------------------------------------------
Tensor max_pool1d(const Tensor& input, const MaxPool1dOptions& options);
Tensor max_pool2d(const Tensor& input, const MaxPool2dOptions& options);
Tensor max_pool3d(const Tensor& input, const MaxPool3dOptions& options);
MaxPoolResult max_pool1d_with_indices(const Tensor& input, const MaxPool1dOptions& options);
MaxPoolResult max_pool2d_with_indices(const Tensor& input, const MaxPool2dOptions& options);
MaxPoolResult max_pool3d_with_indices(const Tensor& input, const MaxPool3dOptions& options);
// dx (input_shape): grad_output[o] added at indices[o]; zero elsewhere.
Tensor max_pool1d_backward(const Tensor& grad_output, const Shape& input_shape,
                           const Tensor& indices, const MaxPool1dOptions& options);
Tensor max_pool2d_backward(const Tensor& grad_output, const Shape& input_shape,
                           const Tensor& indices, const MaxPool2dOptions& options);
Tensor max_pool3d_backward(const Tensor& grad_output, const Shape& input_shape,
                           const Tensor& indices, const MaxPool3dOptions& options);

// --- average pooling -----------------------------------------------------------------------
Tensor avg_pool1d(const Tensor& input, const AvgPool1dOptions& options);
Tensor avg_pool2d(const Tensor& input, const AvgPool2dOptions& options);
Tensor avg_pool3d(const Tensor& input, const AvgPool3dOptions& options);
Tensor avg_pool1d_backward(const Tensor& grad_output, const Shape& input_shape,
                           const AvgPool1dOptions& options);
Tensor avg_pool2d_backward(const Tensor& grad_output, const Shape& input_shape,
                           const AvgPool2dOptions& options);
Tensor avg_pool3d_backward(const Tensor& grad_output, const Shape& input_shape,
                           const AvgPool3dOptions& options);

// --- power-average pooling (norm_type = p, nonzero) ----------------------------------------
Tensor lp_pool1d(const Tensor& input, double norm_type, const LpPool1dOptions& options);
Tensor lp_pool2d(const Tensor& input, double norm_type, const LpPool2dOptions& options);
Tensor lp_pool3d(const Tensor& input, double norm_type, const LpPool3dOptions& options);
Tensor lp_pool1d_backward(const Tensor& grad_output, const Tensor& input, double norm_type,
                          const LpPool1dOptions& options);
Tensor lp_pool2d_backward(const Tensor& grad_output, const Tensor& input, double norm_type,
                          const LpPool2dOptions& options);
Tensor lp_pool3d_backward(const Tensor& grad_output, const Tensor& input, double norm_type,
                          const LpPool3dOptions& options);

// --- adaptive pooling (output_size >= 1 per axis) ------------------------------------------
Tensor adaptive_avg_pool1d(const Tensor& input, const ExpandingArray<1>& output_size);
Tensor adaptive_avg_pool2d(const Tensor& input, const ExpandingArray<2>& output_size);
Tensor adaptive_avg_pool3d(const Tensor& input, const ExpandingArray<3>& output_size);
// The output size is grad_output's.
Tensor adaptive_avg_pool1d_backward(const Tensor& grad_output, const Shape& input_shape);
Tensor adaptive_avg_pool2d_backward(const Tensor& grad_output, const Shape& input_shape);
Tensor adaptive_avg_pool3d_backward(const Tensor& grad_output, const Shape& input_shape);

Tensor adaptive_max_pool1d(const Tensor& input, const ExpandingArray<1>& output_size);
Tensor adaptive_max_pool2d(const Tensor& input, const ExpandingArray<2>& output_size);
Tensor adaptive_max_pool3d(const Tensor& input, const ExpandingArray<3>& output_size);
MaxPoolResult adaptive_max_pool1d_with_indices(const Tensor& input,
                                               const ExpandingArray<1>& output_size);
MaxPoolResult adaptive_max_pool2d_with_indices(const Tensor& input,
                                               const ExpandingArray<2>& output_size);
MaxPoolResult adaptive_max_pool3d_with_indices(const Tensor& input,
                                               const ExpandingArray<3>& output_size);
Tensor adaptive_max_pool1d_backward(const Tensor& grad_output, const Shape& input_shape,
                                    const Tensor& indices);
Tensor adaptive_max_pool2d_backward(const Tensor& grad_output, const Shape& input_shape,
                                    const Tensor& indices);
Tensor adaptive_max_pool3d_backward(const Tensor& grad_output, const Shape& input_shape,
                                    const Tensor& indices);

// --- global pooling: input (N, C, *spatial) with 1 to 3 spatial axes, always batched -------
Tensor global_avg_pool(const Tensor& input);
Tensor global_avg_pool_backward(const Tensor& grad_output, const Shape& input_shape);
Tensor global_max_pool(const Tensor& input);
MaxPoolResult global_max_pool_with_indices(const Tensor& input);
Tensor global_max_pool_backward(const Tensor& grad_output, const Shape& input_shape,
                                const Tensor& indices);

// --- max-unpooling: input and indices as max_pool returned them ----------------------------
Tensor max_unpool1d(const Tensor& input, const Tensor& indices, const MaxUnpool1dOptions& options);
Tensor max_unpool2d(const Tensor& input, const Tensor& indices, const MaxUnpool2dOptions& options);
Tensor max_unpool3d(const Tensor& input, const Tensor& indices, const MaxUnpool3dOptions& options);
// dx[i] = grad_output[indices[i]] per plane (PyTorch's gradient, a gather).
Tensor max_unpool1d_backward(const Tensor& grad_output, const Tensor& indices,
                             const MaxUnpool1dOptions& options);
Tensor max_unpool2d_backward(const Tensor& grad_output, const Tensor& indices,
                             const MaxUnpool2dOptions& options);
Tensor max_unpool3d_backward(const Tensor& grad_output, const Tensor& indices,
                             const MaxUnpool3dOptions& options);

}  // namespace fovea::functional
