// The door of the shape and elementwise ops: validate, work out the broadcast geometry, run
// the row kernels.
#include "fovea/functional/elementwise.h"

#include <fmt/format.h>

#include <string>
#include <vector>

#include <algorithm>
#include <limits>

#include "fovea/autograd.h"
#include "fovea/error.h"
#include "kernels/cpu/elementwise_rows.h"
#include "ops/broadcast.h"
#include "ops/checks.h"
#include "ops/fused_activation.h"

namespace fovea::functional {
namespace {

using kernels::BinaryOp;

constexpr float kInf = std::numeric_limits<float>::infinity();

using ops::check_defined;

void check_grad_output(std::string_view op, const Tensor& dy, const Shape& expected) {
  check_defined(op, "grad_output", dy);
  if (dy.shape() != expected)
    throw ShapeError(fmt::format("{}: grad_output expects the forward output's shape {}, got {}",
                                 op, shape_str(expected), shape_str(dy.shape())));
}

// dim wrapped into [0, rank); a 0-dim tensor accepts 0 and -1 as PyTorch does.
int64_t wrap_dim(std::string_view op, std::string_view arg, int64_t dim, int64_t rank) {
  const int64_t r = std::max<int64_t>(rank, 1);
  if (dim < -r || dim >= r)
    throw ValueError(
        fmt::format("{}: {} expects a value in [{}, {}), got {}", op, arg, -r, r, dim));
  return dim < 0 ? dim + r : dim;
}

// a op b; with an add, `clamp` is the activation fused into it (only where no gradient flows).
Tensor binary(std::string_view op, BinaryOp kind, const Tensor& a, const Tensor& b,
              const ops::ActivationClamp& clamp = {}) {
  check_defined(op, "a", a);
  check_defined(op, "b", b);
  const Shape out = ops::broadcast_shape(op, a.shape(), b.shape());
  Tensor y = Tensor::empty(out);
  const kernels::BroadcastGeometry g = kernels::broadcast_geometry(out, a.shape(), b.shape());
  if (kind == BinaryOp::kAdd && (clamp.lo > -kInf || clamp.hi < kInf))
    kernels::add_clamp_rows(g, clamp.lo, clamp.hi, a.data(), b.data(), y.data());
  else
    kernels::binary_rows(g, kind, a.data(), b.data(), y.data());
  autograd::record(
      std::string(op), {a, b}, y,
      [kind, a = a.detach(), b = b.detach()](const Tensor& dy, const std::vector<bool>&) {
        BinaryGradients g = kind == BinaryOp::kAdd   ? add_backward(dy, a.shape(), b.shape())
                            : kind == BinaryOp::kSub ? sub_backward(dy, a.shape(), b.shape())
                                                     : mul_backward(dy, a, b);
        return std::vector<Tensor>{g.a, g.b};
      });
  return y;
}

Tensor binary_scalar(std::string_view op, BinaryOp kind, const Tensor& a, float b) {
  check_defined(op, "a", a);
  return binary(op, kind, a, Tensor::full({}, b));
}

BinaryGradients add_sub_backward(std::string_view op, const Tensor& dy, const Shape& a,
                                 const Shape& b, float b_sign) {
  check_grad_output(op, dy, ops::broadcast_shape(op, a, b));
  return {ops::sum_to(dy, a), ops::sum_to(dy, b, b_sign)};
}

// The reduction sum/mean(input, dim, keepdim) described once for forward and backward.
struct Reduction {
  Shape kept;         // the input's shape with reduced axes set to 1
  Shape out;          // the result's shape (kept without those axes unless keepdim)
  int64_t count = 1;  // elements summed into each result
};

Reduction make_reduction(std::string_view op, const Shape& input, const std::vector<int64_t>& dim,
                         bool keepdim) {
  const int64_t rank = static_cast<int64_t>(input.size());
  std::vector<bool> reduced(rank, dim.empty());
  for (int64_t d : dim) {
    const int64_t k = wrap_dim(op, "dim", d, rank);
    if (rank == 0) continue;  // reducing the one element of a 0-dim tensor changes nothing
    if (reduced[k])
      throw ValueError(fmt::format("{}: dim expects each axis at most once, got {} twice", op, k));
    reduced[k] = true;
  }
  Reduction r;
  for (int64_t k = 0; k < rank; ++k) {
    r.kept.push_back(reduced[k] ? 1 : input[k]);
    if (reduced[k]) r.count *= input[k];
    if (!reduced[k] || keepdim) r.out.push_back(r.kept.back());
  }
  return r;
}

// The mean of no elements is 0 * (1 / 0) = NaN, as in PyTorch.
float mean_scale(const Reduction& r) {
  return 1.0f / static_cast<float>(r.count);
}

Tensor reduce_backward(std::string_view op, const Tensor& dy, const Shape& input,
                       const std::vector<int64_t>& dim, bool keepdim, bool average) {
  const Reduction r = make_reduction(op, input, dim, keepdim);
  check_grad_output(op, dy, r.out);
  return ops::expand_to(dy.reshape(r.kept), input, average ? mean_scale(r) : 1.0f);
}

Tensor reduce(std::string_view op, const Tensor& x, const std::vector<int64_t>& dim, bool keepdim,
              bool average) {
  check_defined(op, "input", x);
  const Reduction r = make_reduction(op, x.shape(), dim, keepdim);
  Tensor y = ops::sum_to(x, r.kept, average ? mean_scale(r) : 1.0f).reshape(r.out);
  autograd::record(
      std::string(op), {x}, y,
      [op, shape = x.shape(), dim, keepdim, average](const Tensor& dy, const std::vector<bool>&) {
        return std::vector<Tensor>{reduce_backward(op, dy, shape, dim, keepdim, average)};
      });
  return y;
}

// A concatenation along `dim`, axes before it flattened into `outer` and the rest into one
// chunk per piece.
struct CatLayout {
  int64_t dim = 0, outer = 1, inner = 1;
  std::vector<int64_t> chunks;
};

CatLayout cat_layout(const Shape& shape, int64_t dim, const std::vector<int64_t>& sizes) {
  CatLayout c;
  c.dim = dim;
  for (int64_t k = 0; k < dim; ++k) c.outer *= shape[k];
  for (size_t k = dim + 1; k < shape.size(); ++k) c.inner *= shape[k];
  for (int64_t s : sizes) c.chunks.push_back(s * c.inner);
  return c;
}

}  // namespace

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  constexpr std::string_view op = "flatten";
  check_defined(op, "input", x);
  const int64_t start = wrap_dim(op, "start_dim", start_dim, x.dim());
  const int64_t end = wrap_dim(op, "end_dim", end_dim, x.dim());
  if (start > end)
    throw ValueError(fmt::format("{}: start_dim expects an axis at or before end_dim ({}), got {}",
                                 op, end, start));
  if (x.dim() == 0) return x.reshape({1});
  Shape s(x.shape().begin(), x.shape().begin() + start);
  s.push_back(shape_numel(std::span(x.shape()).subspan(start, end - start + 1)));
  s.insert(s.end(), x.shape().begin() + end + 1, x.shape().end());
  return x.reshape(std::move(s));
}

Tensor flatten_backward(const Tensor& dy, const Shape& input_shape) {
  constexpr std::string_view op = "flatten_backward";
  check_defined(op, "grad_output", dy);
  if (dy.numel() != shape_numel(input_shape))
    throw ShapeError(fmt::format("{}: grad_output expects {} elements (input shape {}), got {}", op,
                                 shape_numel(input_shape), shape_str(input_shape),
                                 shape_str(dy.shape())));
  return dy.reshape(input_shape);
}

Tensor add(const Tensor& a, const Tensor& b) {
  return binary("add", BinaryOp::kAdd, a, b);
}

Tensor add(const Tensor& a, const Tensor& b, FusedActivation activation) {
  // Recorded: the activation runs as its own op after the add, whose backward masks the
  // gradient.
  if (autograd::any_requires_grad({a, b})) return ops::apply_activation(add(a, b), activation);
  return binary("add", BinaryOp::kAdd, a, b, ops::activation_clamp(activation));
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary("sub", BinaryOp::kSub, a, b);
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary("mul", BinaryOp::kMul, a, b);
}

BinaryGradients add_backward(const Tensor& dy, const Shape& a, const Shape& b) {
  return add_sub_backward("add_backward", dy, a, b, 1.0f);
}
BinaryGradients sub_backward(const Tensor& dy, const Shape& a, const Shape& b) {
  return add_sub_backward("sub_backward", dy, a, b, -1.0f);
}

BinaryGradients mul_backward(const Tensor& dy, const Tensor& a, const Tensor& b) {
  constexpr std::string_view op = "mul_backward";
  check_defined(op, "a", a);
  check_defined(op, "b", b);
  const Shape out = ops::broadcast_shape(op, a.shape(), b.shape());
  check_grad_output(op, dy, out);
  // Each product has the full shape; sum it back only where the operand was stretched.
  auto to_shape = [&](const Tensor& full, const Shape& shape) {
    return shape == out ? full : ops::sum_to(full, shape);
  };
  return {to_shape(binary(op, BinaryOp::kMul, dy, b), a.shape()),
          to_shape(binary(op, BinaryOp::kMul, dy, a), b.shape())};
}

Tensor add(const Tensor& a, float b) {
  return binary_scalar("add", BinaryOp::kAdd, a, b);
}
Tensor sub(const Tensor& a, float b) {
  return binary_scalar("sub", BinaryOp::kSub, a, b);
}
Tensor mul(const Tensor& a, float b) {
  return binary_scalar("mul", BinaryOp::kMul, a, b);
}
Tensor mul_backward(const Tensor& dy, float b) {
  check_defined("mul_backward", "grad_output", dy);
  return binary_scalar("mul_backward", BinaryOp::kMul, dy, b);
}

Tensor sum(const Tensor& x, const std::vector<int64_t>& dim, bool keepdim) {
  return reduce("sum", x, dim, keepdim, false);
}
Tensor sum(const Tensor& x, int64_t dim, bool keepdim) {
  return reduce("sum", x, {dim}, keepdim, false);
}
Tensor mean(const Tensor& x, const std::vector<int64_t>& dim, bool keepdim) {
  return reduce("mean", x, dim, keepdim, true);
}
Tensor mean(const Tensor& x, int64_t dim, bool keepdim) {
  return reduce("mean", x, {dim}, keepdim, true);
}
Tensor sum_backward(const Tensor& dy, const Shape& input_shape, const std::vector<int64_t>& dim,
                    bool keepdim) {
  return reduce_backward("sum_backward", dy, input_shape, dim, keepdim, false);
}
Tensor mean_backward(const Tensor& dy, const Shape& input_shape, const std::vector<int64_t>& dim,
                     bool keepdim) {
  return reduce_backward("mean_backward", dy, input_shape, dim, keepdim, true);
}

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  constexpr std::string_view op = "cat";
  if (tensors.empty()) throw ValueError("cat: tensors expects at least one tensor, got none");
  for (size_t i = 0; i < tensors.size(); ++i)
    check_defined(op, fmt::format("tensors[{}]", i), tensors[i]);
  const Shape& first = tensors[0].shape();
  if (first.empty())
    throw ShapeError("cat: tensors expects at least 1 dimension, got a 0-dim tensors[0]");
  const int64_t d = wrap_dim(op, "dim", dim, tensors[0].dim());
  Shape out = first;
  out[d] = 0;
  std::vector<int64_t> sizes;
  std::vector<const float*> pieces;
  for (size_t i = 0; i < tensors.size(); ++i) {
    Shape s = tensors[i].shape();
    const int64_t size = s.size() == first.size() ? s[d] : -1;
    if (size >= 0) s[d] = 0;
    if (s != out) {
      std::vector<std::string> want(first.size());
      for (size_t k = 0; k < first.size(); ++k)
        want[k] = static_cast<int64_t>(k) == d ? "*" : std::to_string(first[k]);
      throw ShapeError(fmt::format(
          "{}: tensors[{}] expects shape [{}] (tensors[0]'s, any size along dim {}), got {}", op, i,
          fmt::join(want, ", "), d, shape_str(tensors[i].shape())));
    }
    sizes.push_back(size);
    pieces.push_back(tensors[i].data());
  }
  const CatLayout c = cat_layout(first, d, sizes);
  for (int64_t s : sizes) out[d] += s;
  Tensor y = Tensor::empty(out);
  kernels::cat_reference(c.outer, c.chunks, pieces.data(), y.data());
  autograd::record("cat", tensors, y, [sizes, d](const Tensor& dy, const std::vector<bool>&) {
    return cat_backward(dy, sizes, d);
  });
  return y;
}

std::vector<Tensor> cat_backward(const Tensor& dy, const std::vector<int64_t>& sizes, int64_t dim) {
  constexpr std::string_view op = "cat_backward";
  check_defined(op, "grad_output", dy);
  if (dy.dim() == 0) throw ShapeError("cat_backward: grad_output expects at least 1 dimension");
  const int64_t d = wrap_dim(op, "dim", dim, dy.dim());
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) throw ValueError(fmt::format("{}: sizes expects values >= 0, got {}", op, s));
    total += s;
  }
  if (sizes.empty() || total != dy.size(d))
    throw ShapeError(
        fmt::format("{}: sizes expects at least one size and a total of {} (grad_output's "
                    "size along dim {}), got [{}]",
                    op, dy.size(d), d, fmt::join(sizes, ", ")));
  const CatLayout c = cat_layout(dy.shape(), d, sizes);
  std::vector<Tensor> grads;
  std::vector<float*> pieces;
  for (int64_t s : sizes) {
    Shape shape = dy.shape();
    shape[d] = s;
    grads.push_back(Tensor::empty(shape));
    pieces.push_back(grads.back().data());
  }
  kernels::split_reference(c.outer, c.chunks, dy.data(), pieces.data());
  return grads;
}

}  // namespace fovea::functional
