// The door of the linear layer: validate, flatten the leading axes into rows, run one GEMM
// per pass.
#include "fovea/functional/linear.h"

#include <fmt/format.h>

#include "fovea/autograd.h"
#include "fovea/error.h"
#include "kernels/cpu/linear_gemm.h"
#include "ops/checks.h"

namespace fovea::functional {
namespace {

using kernels::LinearGeometry;

using ops::check_defined;

LinearGeometry make_geometry(std::string_view op, const Tensor& x, const Tensor& w,
                             const std::optional<Tensor>& b) {
  check_defined(op, "input", x);
  check_defined(op, "weight", w);
  if (x.dim() < 1)
    throw ShapeError(fmt::format("{}: input expects at least 1 dimension (*, in_features), got {}",
                                 op, shape_str(x.shape())));
  if (w.dim() != 2)
    throw ShapeError(fmt::format(
        "{}: weight expects 2 dimensions (out_features, in_features), got {} with shape {}", op,
        w.dim(), shape_str(w.shape())));
  if (w.size(1) != x.size(-1))
    throw ShapeError(fmt::format(
        "{}: weight expects in_features (size 1) equal to the input's last size {}, got shape {}",
        op, x.size(-1), shape_str(w.shape())));
  if (b) {
    check_defined(op, "bias", *b);
    if (b->shape() != Shape{w.size(0)})
      throw ShapeError(fmt::format("{}: bias expects shape [{}] (one per output feature), got {}",
                                   op, w.size(0), shape_str(b->shape())));
  }
  LinearGeometry g;
  g.in_features = w.size(1);
  g.out_features = w.size(0);
  g.rows = shape_numel(std::span(x.shape()).first(x.shape().size() - 1));
  return g;
}

Shape output_shape(const Tensor& x, int64_t out_features) {
  Shape s = x.shape();
  s.back() = out_features;
  return s;
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b) {
  const LinearGeometry g = make_geometry("linear", x, w, b);
  Tensor y = Tensor::empty(output_shape(x, g.out_features));
  kernels::linear_forward_gemm(g, x.data(), w.data(), b ? b->data() : nullptr, y.data());
  autograd::record("linear", {x, w, b.value_or(Tensor())}, y,
                   [x = x.detach(), w = w.detach(), has_bias = b.has_value()](
                       const Tensor& dy, const std::vector<bool>&) {
                     LinearGradients g = linear_backward(dy, x, w, has_bias);
                     return std::vector<Tensor>{g.input, g.weight, g.bias};
                   });
  return y;
}

LinearGradients linear_backward(const Tensor& dy, const Tensor& x, const Tensor& w, bool has_bias) {
  constexpr std::string_view op = "linear_backward";
  const LinearGeometry g = make_geometry(op, x, w, std::nullopt);
  check_defined(op, "grad_output", dy);
  const Shape expected = output_shape(x, g.out_features);
  if (dy.shape() != expected)
    throw ShapeError(fmt::format("{}: grad_output expects the forward output's shape {}, got {}",
                                 op, shape_str(expected), shape_str(dy.shape())));
  LinearGradients grads{Tensor::empty(x.shape()), Tensor::empty(w.shape()), {}};
  kernels::linear_backward_data_gemm(g, dy.data(), w.data(), grads.input.data());
  kernels::linear_backward_weight_gemm(g, x.data(), dy.data(), grads.weight.data());
  if (has_bias) {
    grads.bias = Tensor::empty({g.out_features});
    kernels::linear_backward_bias_reference(g, dy.data(), grads.bias.data());
  }
  return grads;
}

}  // namespace fovea::functional
