// Convolution and transposed convolution, 1D/2D/3D, forward and backward.
//
//   y[n, oc, o] = b[oc] + sum_{ic in group(oc), k} x[n, ic, o*stride - pad_lo + k*dilation]
//                                                  * w[oc, ic mod Cin/groups, k]
// x (N, C_in, *spatial), w (C_out, C_in/groups, *kernel), b (C_out), y (N, C_out, *out).
// That is cross-correlation, as in PyTorch; flip_kernel = true computes true convolution
// (the kernel reversed along every spatial axis). An unbatched input (C_in, *spatial) gives an
// unbatched output, as in PyTorch.
//
// Transposed convolution is the adjoint (data gradient) of convolution:
// x (N, C_in, *spatial), w (C_in, C_out/groups, *kernel), y (N, C_out, *out) with
//   out = (n - 1)*stride - 2*padding + dilation*(k - 1) + output_padding + 1.
//
// Usage:  namespace F = fovea::functional;
//         Tensor y = F::conv2d(x, w, b, {.stride = 2, .padding = fovea::Same{}});
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fovea/conv_arithmetic.h"
#include "fovea/functional/fused_activation.h"
#include "fovea/tensor.h"

namespace fovea::functional {

template <int D>
struct ConvOptions {
  ExpandingArray<D> stride = 1;
  Padding<D> padding = 0;
  ExpandingArray<D> dilation = 1;
  int64_t groups = 1;
  bool flip_kernel = false;  // true convolution instead of cross-correlation
  FusedActivation activation = FusedActivation::kNone;  // applied in the kernel's epilogue
};
using Conv1dOptions = ConvOptions<1>;
using Conv2dOptions = ConvOptions<2>;
using Conv3dOptions = ConvOptions<3>;

template <int D>
struct ConvTransposeOptions {
  ExpandingArray<D> stride = 1;
  ExpandingArray<D> padding = 0;
  ExpandingArray<D> output_padding = 0;
  ExpandingArray<D> dilation = 1;
  int64_t groups = 1;
};
using ConvTranspose1dOptions = ConvTransposeOptions<1>;
using ConvTranspose2dOptions = ConvTransposeOptions<2>;
using ConvTranspose3dOptions = ConvTransposeOptions<3>;

// Gradients of a loss with respect to the input, weight and bias; bias is undefined when
// the layer has none.
struct ConvGradients {
  Tensor input, weight, bias;
};

Tensor conv1d(const Tensor& input, const Tensor& weight, const std::optional<Tensor>& bias = {},
              const Conv1dOptions& options = {});
Tensor conv2d(const Tensor& input, const Tensor& weight, const std::optional<Tensor>& bias = {},
              const Conv2dOptions& options = {});
Tensor conv3d(const Tensor& input, const Tensor& weight, const std::optional<Tensor>& bias = {},
              const Conv3dOptions& options = {});

// options.activation(conv2d(input, weight, bias) + residual), residual of the output's shape: a
// ResNet block's last convolution joining its shortcut (not in PyTorch's API; its inference JIT
// fuses the same way). Where no gradient is recorded and the algorithm picked for the shape
// fuses residuals (the Winograd rows), the kernel adds it while storing the output; otherwise the
// convolution, then add(y, residual, options.activation), with their usual gradients.
Tensor conv2d_add(const Tensor& input, const Tensor& weight, const std::optional<Tensor>& bias,
                  const Tensor& residual, const Conv2dOptions& options = {});

// grad_output has the forward output's shape; has_bias says whether to return bias's gradient.
ConvGradients conv1d_backward(const Tensor& grad_output, const Tensor& input, const Tensor& weight,
                              bool has_bias, const Conv1dOptions& options = {});
ConvGradients conv2d_backward(const Tensor& grad_output, const Tensor& input, const Tensor& weight,
                              bool has_bias, const Conv2dOptions& options = {});
ConvGradients conv3d_backward(const Tensor& grad_output, const Tensor& input, const Tensor& weight,
                              bool has_bias, const Conv3dOptions& options = {});

Tensor conv_transpose1d(const Tensor& input, const Tensor& weight,
                        const std::optional<Tensor>& bias = {},
                        const ConvTranspose1dOptions& options = {});
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight,
                        const std::optional<Tensor>& bias = {},
                        const ConvTranspose2dOptions& options = {});
Tensor conv_transpose3d(const Tensor& input, const Tensor& weight,
                        const std::optional<Tensor>& bias = {},
                        const ConvTranspose3dOptions& options = {});

ConvGradients conv_transpose1d_backward(const Tensor& grad_output, const Tensor& input,
                                        const Tensor& weight, bool has_bias,
                                        const ConvTranspose1dOptions& options = {});
ConvGradients conv_transpose2d_backward(const Tensor& grad_output, const Tensor& input,
                                        const Tensor& weight, bool has_bias,
                                        const ConvTranspose2dOptions& options = {});
ConvGradients conv_transpose3d_backward(const Tensor& grad_output, const Tensor& input,
                                        const Tensor& weight, bool has_bias,
                                        const ConvTranspose3dOptions& options = {});

}  // namespace fovea::functional

namespace fovea {

// The convolution algorithm used by every call in this process: "" picks per shape by
// measured heuristics (the default); "autotune" times every algorithm that supports a shape
// on its first call and keeps the fastest (a few extra calls per new shape); a name from
// conv_algorithm_names() forces that algorithm wherever it supports the shape and pass, the
// default choice elsewhere (so one can force "winograd_f4x3" for a whole network). Unknown
// names raise ValueError.
inline constexpr std::string_view kConvAutotune = "autotune";
void set_conv_algorithm(std::string_view name);
const std::string& conv_algorithm();
std::vector<std::string> conv_algorithm_names();

// Forces an algorithm for the guard's lifetime (tests, benchmarks), then restores the old one.
class ConvAlgorithmGuard {
 public:
  explicit ConvAlgorithmGuard(std::string_view name) : previous_(conv_algorithm()) {
    set_conv_algorithm(name);
  }
  ~ConvAlgorithmGuard() { set_conv_algorithm(previous_); }
  ConvAlgorithmGuard(const ConvAlgorithmGuard&) = delete;
  ConvAlgorithmGuard& operator=(const ConvAlgorithmGuard&) = delete;

 private:
  std::string previous_;
};

}  // namespace fovea
