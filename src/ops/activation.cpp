// The door of the elementwise activations and softmax: validate, run the kernel. Both run the
// CPU kernels, held equal to the reference ones by tests/kernels/activation_kernels_test.cpp
// and tests/kernels/softmax_kernels_test.cpp.
#include "fovea/functional/activation.h"

#include <fmt/format.h>

#include <algorithm>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fovea/autograd.h"
#include "fovea/error.h"
#include "kernels/cpu/activation_cpu.h"
#include "kernels/cpu/softmax_cpu.h"
#include "ops/checks.h"

namespace fovea::functional {
namespace {

using kernels::Activation;
using kernels::ActivationKind;

using ops::check_defined;

// The backward's two tensors must have the forward's one shape.
void check_same_shape(std::string_view op, const Tensor& grad_output, std::string_view saved_name,
                      const Tensor& saved) {
  check_defined(op, "grad_output", grad_output);
  check_defined(op, saved_name, saved);
  if (grad_output.shape() != saved.shape())
    throw ShapeError(fmt::format("{}: grad_output expects the {}'s shape {}, got {}", op,
                                 saved_name, shape_str(saved.shape()),
                                 shape_str(grad_output.shape())));
}

Tensor activation_backward(std::string_view op, const Tensor& dy, const Tensor& saved,
                           const Activation& a) {
  check_same_shape(op, dy, kernels::backward_reads_output(a.kind) ? "output" : "input", saved);
  Tensor dx = Tensor::empty(dy.shape());
  kernels::activation_backward_cpu(a, dy.numel(), dy.data(), saved.data(), dx.data());
  return dx;
}

Tensor activation_forward(std::string_view op, const Tensor& x, const Activation& a) {
  check_defined(op, "input", x);
  Tensor y = Tensor::empty(x.shape());
  kernels::activation_forward_cpu(a, x.numel(), x.data(), y.data());
  const Tensor saved = (kernels::backward_reads_output(a.kind) ? y : x).detach();
  autograd::record(std::string(op), {x}, y,
                   [op, a, saved](const Tensor& dy, const std::vector<bool>&) {
                     return std::vector<Tensor>{activation_backward(op, dy, saved, a)};
                   });
  return y;
}

Activation gelu_activation(std::string_view op, const GeluOptions& o) {
  if (o.approximate == "none") return {ActivationKind::kGelu};
  if (o.approximate == "tanh") return {ActivationKind::kGeluTanh};
  throw ValueError(
      fmt::format("{}: approximate expects 'none' or 'tanh', got '{}'", op, o.approximate));
}

// The input seen as (outer, size, inner) around axis dim; a 0-dimensional input is one value.
kernels::SoftmaxGeometry softmax_geometry(std::string_view op, const Tensor& t, int64_t dim,
                                          bool log) {
  const int64_t rank = std::max<int64_t>(t.dim(), 1);
  if (dim < -rank || dim >= rank)
    throw ValueError(
        fmt::format("{}: dim expects a value in [{}, {}] for an input of shape {}, got {}", op,
                    -rank, rank - 1, shape_str(t.shape()), dim));
  if (t.dim() == 0) return {.log = log};
  const int64_t d = dim < 0 ? dim + rank : dim;
  const std::span<const int64_t> shape = t.shape();
  return {.outer = shape_numel(shape.first(d)),
          .size = shape[d],
          .inner = shape_numel(shape.subspan(d + 1)),
          .log = log};
}

Tensor run_softmax_backward(std::string_view op, const Tensor& dy, const Tensor& y, int64_t dim,
                            bool log) {
  check_same_shape(op, dy, "output", y);
  const kernels::SoftmaxGeometry g = softmax_geometry(op, y, dim, log);
  Tensor dx = Tensor::empty(y.shape());
  kernels::softmax_backward_cpu(g, dy.data(), y.data(), dx.data());
  return dx;
}

Tensor run_softmax(std::string_view op, const Tensor& x, int64_t dim, bool log) {
  check_defined(op, "input", x);
  const kernels::SoftmaxGeometry g = softmax_geometry(op, x, dim, log);
  Tensor y = Tensor::empty(x.shape());
  kernels::softmax_forward_cpu(g, x.data(), y.data());
  autograd::record(std::string(op), {x}, y,
                   [op, dim, log, saved = y.detach()](const Tensor& dy, const std::vector<bool>&) {
                     return std::vector<Tensor>{run_softmax_backward(op, dy, saved, dim, log)};
                   });
  return y;
}

}  // namespace

Tensor relu(const Tensor& x) {
  return activation_forward("relu", x, {ActivationKind::kRelu});
}
Tensor relu_backward(const Tensor& dy, const Tensor& y) {
  return activation_backward("relu_backward", dy, y, {ActivationKind::kRelu});
}

Tensor relu6(const Tensor& x) {
  return activation_forward("relu6", x, {ActivationKind::kRelu6});
}
Tensor relu6_backward(const Tensor& dy, const Tensor& y) {
  return activation_backward("relu6_backward", dy, y, {ActivationKind::kRelu6});
}

Tensor leaky_relu(const Tensor& x, const LeakyReluOptions& o) {
  return activation_forward("leaky_relu", x,
                            {ActivationKind::kLeakyRelu, static_cast<float>(o.negative_slope)});
}
Tensor leaky_relu_backward(const Tensor& dy, const Tensor& x, const LeakyReluOptions& o) {
  return activation_backward("leaky_relu_backward", dy, x,
                             {ActivationKind::kLeakyRelu, static_cast<float>(o.negative_slope)});
}

Tensor elu(const Tensor& x, const EluOptions& o) {
  return activation_forward("elu", x, {ActivationKind::kElu, static_cast<float>(o.alpha)});
}
Tensor elu_backward(const Tensor& dy, const Tensor& x, const EluOptions& o) {
  return activation_backward("elu_backward", dy, x,
                             {ActivationKind::kElu, static_cast<float>(o.alpha)});
}

Tensor gelu(const Tensor& x, const GeluOptions& o) {
  return activation_forward("gelu", x, gelu_activation("gelu", o));
}
Tensor gelu_backward(const Tensor& dy, const Tensor& x, const GeluOptions& o) {
  return activation_backward("gelu_backward", dy, x, gelu_activation("gelu_backward", o));
}

Tensor silu(const Tensor& x) {
  return activation_forward("silu", x, {ActivationKind::kSilu});
}
Tensor silu_backward(const Tensor& dy, const Tensor& x) {
  return activation_backward("silu_backward", dy, x, {ActivationKind::kSilu});
}

Tensor sigmoid(const Tensor& x) {
  return activation_forward("sigmoid", x, {ActivationKind::kSigmoid});
}
Tensor sigmoid_backward(const Tensor& dy, const Tensor& y) {
  return activation_backward("sigmoid_backward", dy, y, {ActivationKind::kSigmoid});
}

Tensor tanh(const Tensor& x) {
  return activation_forward("tanh", x, {ActivationKind::kTanh});
}
Tensor tanh_backward(const Tensor& dy, const Tensor& y) {
  return activation_backward("tanh_backward", dy, y, {ActivationKind::kTanh});
}

Tensor hardswish(const Tensor& x) {
  return activation_forward("hardswish", x, {ActivationKind::kHardswish});
}
Tensor hardswish_backward(const Tensor& dy, const Tensor& x) {
  return activation_backward("hardswish_backward", dy, x, {ActivationKind::kHardswish});
}

Tensor hardsigmoid(const Tensor& x) {
  return activation_forward("hardsigmoid", x, {ActivationKind::kHardsigmoid});
}
Tensor hardsigmoid_backward(const Tensor& dy, const Tensor& x) {
  return activation_backward("hardsigmoid_backward", dy, x, {ActivationKind::kHardsigmoid});
}

Tensor softmax(const Tensor& x, int64_t dim) {
  return run_softmax("softmax", x, dim, false);
}
Tensor softmax_backward(const Tensor& dy, const Tensor& y, int64_t dim) {
  return run_softmax_backward("softmax_backward", dy, y, dim, false);
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
  return run_softmax("log_softmax", x, dim, true);
}
Tensor log_softmax_backward(const Tensor& dy, const Tensor& y, int64_t dim) {
  return run_softmax_backward("log_softmax_backward", dy, y, dim, true);
}

}  // namespace fovea::functional
