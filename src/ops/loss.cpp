// The door of the losses: validate shapes, options and class indices, run the per-element
// kernel, then reduce (forward) or turn grad_output into per-element scales (backward).
#include "fovea/functional/loss.h"

#include <fmt/format.h>

#include <cmath>
#include <vector>

#include "fovea/autograd.h"
#include "fovea/error.h"
#include "kernels/cpu/loss_cpu.h"
#include "kernels/reference/loss_reference.h"
#include "ops/broadcast.h"
#include "ops/checks.h"

namespace fovea::functional {
namespace {

using kernels::ClassLossGeometry;

using ops::check_defined;

// "[2, 1]": the multi-index of flat element i of `shape`, for error messages.
std::string position_str(const Shape& shape, int64_t i) {
  Shape idx(shape.size());
  for (size_t k = shape.size(); k-- > 0;) {
    idx[k] = i % shape[k];
    i /= shape[k];
  }
  return shape_str(idx);
}

// The loss of each element reduced as asked; `denominator` is the mean's.
Tensor reduce(const Tensor& loss, Reduction reduction, double denominator) {
  if (reduction == Reduction::kNone) return loss;
  double total = 0.0;  // in double: a batch's losses can span many orders of magnitude
  for (float v : loss.span()) total += v;
  if (reduction == Reduction::kMean) total /= denominator;
  return Tensor::full({}, static_cast<float>(total));
}

// The upstream gradient of each element's loss, as a pointer and stride for the backward
// kernels: grad_output itself for none, one value (divided by the mean's denominator) else.
struct Scale {
  Tensor values;
  int64_t stride = 0;
};

Scale element_scales(std::string_view op, const Tensor& dy, Reduction reduction,
                     const Shape& element_shape, double denominator) {
  check_defined(op, "grad_output", dy);
  const Shape expected = reduction == Reduction::kNone ? element_shape : Shape{};
  if (dy.shape() != expected)
    throw ShapeError(fmt::format("{}: grad_output expects the loss's shape {}, got {}", op,
                                 shape_str(expected), shape_str(dy.shape())));
  if (reduction == Reduction::kNone) return {dy, 1};
  const double s = dy.data()[0];
  return {Tensor::full({}, static_cast<float>(reduction == Reduction::kMean ? s / denominator : s)),
          0};
}

// ---- classification (nll_loss, cross_entropy) ----

// A validated class-loss call: its geometry, and the mean's denominator sum_i w[t_i] over the
// elements not ignored.
struct ClassCall {
  ClassLossGeometry g;
  const float* weight = nullptr;
  double total_weight = 0.0;
};

ClassCall class_call(std::string_view op, const Tensor& x, const Tensor& target,
                     const std::optional<Tensor>& weight, int64_t ignore_index,
                     float label_smoothing) {
  check_defined(op, "input", x);
  check_defined(op, "target", target);
  if (x.dim() < 1)
    throw ShapeError(fmt::format("{}: input expects (N, C, ...) or unbatched (C), got shape {}", op,
                                 shape_str(x.shape())));
  ClassCall call;
  ClassLossGeometry& g = call.g;
  const bool unbatched = x.dim() == 1;
  g.N = unbatched ? 1 : x.size(0);
  g.C = x.size(unbatched ? 0 : 1);
  g.inner = unbatched ? 1 : shape_numel(std::span(x.shape()).subspan(2));
  g.ignore_index = ignore_index;
  g.label_smoothing = label_smoothing;
  Shape expected;
  if (!unbatched) {
    expected = x.shape();
    expected.erase(expected.begin() + 1);
  }
  if (target.shape() == x.shape())
    throw UnsupportedError(fmt::format(
        "{}: target of the input's shape {} (class probabilities) is not supported; pass class "
        "indices of shape {}",
        op, shape_str(x.shape()), shape_str(expected)));
  if (target.shape() != expected)
    throw ShapeError(
        fmt::format("{}: target expects shape {} (the input's without the class axis 1), got {}",
                    op, shape_str(expected), shape_str(target.shape())));
  if (weight) {
    check_defined(op, "weight", *weight);
    if (weight->shape() != Shape{g.C})
      throw ShapeError(fmt::format("{}: weight expects shape [{}] (one per class), got {}", op, g.C,
                                   shape_str(weight->shape())));
    call.weight = weight->data();
  }
  if (!(label_smoothing >= 0.0f && label_smoothing <= 1.0f))
    throw ValueError(
        fmt::format("{}: label_smoothing expects a value in [0, 1], got {}", op, label_smoothing));
  for (int64_t i = 0; i < target.numel(); ++i) {
    // Compared as doubles: any float, however large, converts exactly.
    const double v = target.data()[i];
    if (v != std::floor(v) || !std::isfinite(v))
      throw ValueError(
          fmt::format("{}: target expects integer class indices, got {} at position {}", op, v,
                      position_str(target.shape(), i)));
    if (v == static_cast<double>(ignore_index)) continue;
    if (v < 0 || v >= static_cast<double>(g.C))
      throw ValueError(
          fmt::format("{}: target expects class indices in [0, {}) or ignore_index {}, got {} at "
                      "position {}",
                      op, g.C, ignore_index, v, position_str(target.shape(), i)));
    call.total_weight += call.weight ? call.weight[static_cast<int64_t>(v)] : 1.0f;
  }
  return call;
}

// ---- elementwise losses (mse_loss, binary_cross_entropy_with_logits) ----

void check_same_shape(std::string_view op, const Tensor& x, const Tensor& target) {
  check_defined(op, "input", x);
  check_defined(op, "target", target);
  if (target.shape() != x.shape())
    throw ShapeError(fmt::format("{}: target expects the input's shape {}, got {}", op,
                                 shape_str(x.shape()), shape_str(target.shape())));
}

// An optional per-element factor broadcast to the input's shape (undefined when absent).
Tensor broadcast_option(std::string_view op, std::string_view arg, const std::optional<Tensor>& t,
                        const Shape& shape) {
  if (!t) return {};
  check_defined(op, arg, *t);
  if (!ops::broadcasts_to(t->shape(), shape))
    throw ShapeError(fmt::format("{}: {} expects a shape that broadcasts to the input's {}, got {}",
                                 op, arg, shape_str(shape), shape_str(t->shape())));
  return ops::expand_to(*t, shape);
}

const float* data_or_null(const Tensor& t) {
  return t.defined() ? t.data() : nullptr;
}

// Records loss = op(x, target) with grad_x = backward(dy, x, target, options); the target is
// data, never differentiated.
template <class Options, class Backward>
Tensor record_loss(const char* op, const Tensor& x, const Tensor& target, const Options& o,
                   Tensor loss, Backward backward) {
  autograd::record(op, {x}, loss,
                   [x = x.detach(), target = target.detach(), o, backward](
                       const Tensor& dy, const std::vector<bool>&) {
                     return std::vector<Tensor>{backward(dy, x, target, o)};
                   });
  return loss;
}

}  // namespace

Tensor nll_loss(const Tensor& x, const Tensor& target, const NllLossOptions& o) {
  const ClassCall c = class_call("nll_loss", x, target, o.weight, o.ignore_index, 0.0f);
  Tensor loss = Tensor::empty(target.shape());
  kernels::nll_loss_forward_reference(c.g, x.data(), target.data(), c.weight, loss.data());
  return record_loss("nll_loss", x, target, o, reduce(loss, o.reduction, c.total_weight),
                     nll_loss_backward);
}

Tensor nll_loss_backward(const Tensor& dy, const Tensor& x, const Tensor& target,
                         const NllLossOptions& o) {
  constexpr std::string_view op = "nll_loss_backward";
  const ClassCall c = class_call(op, x, target, o.weight, o.ignore_index, 0.0f);
  const Scale s = element_scales(op, dy, o.reduction, target.shape(), c.total_weight);
  Tensor dx = Tensor::empty(x.shape());
  kernels::nll_loss_backward_reference(c.g, target.data(), c.weight, s.values.data(), s.stride,
                                       dx.data());
  return dx;
}

Tensor cross_entropy(const Tensor& x, const Tensor& target, const CrossEntropyOptions& o) {
  const ClassCall c =
      class_call("cross_entropy", x, target, o.weight, o.ignore_index, o.label_smoothing);
  Tensor loss = Tensor::empty(target.shape());
  // Contiguous classes run the fused CPU kernel; extra axes (segmentation maps), the reference.
  const auto forward = c.g.inner == 1 ? kernels::cross_entropy_forward_cpu
                                      : kernels::cross_entropy_forward_reference;
  forward(c.g, x.data(), target.data(), c.weight, loss.data());
  return record_loss("cross_entropy", x, target, o, reduce(loss, o.reduction, c.total_weight),
                     cross_entropy_backward);
}

Tensor cross_entropy_backward(const Tensor& dy, const Tensor& x, const Tensor& target,
                              const CrossEntropyOptions& o) {
  constexpr std::string_view op = "cross_entropy_backward";
  const ClassCall c = class_call(op, x, target, o.weight, o.ignore_index, o.label_smoothing);
  const Scale s = element_scales(op, dy, o.reduction, target.shape(), c.total_weight);
  Tensor dx = Tensor::empty(x.shape());
  const auto backward = c.g.inner == 1 ? kernels::cross_entropy_backward_cpu
                                       : kernels::cross_entropy_backward_reference;
  backward(c.g, x.data(), target.data(), c.weight, s.values.data(), s.stride, dx.data());
  return dx;
}

Tensor mse_loss(const Tensor& x, const Tensor& target, const MseLossOptions& o) {
  check_same_shape("mse_loss", x, target);
  Tensor loss = Tensor::empty(x.shape());
  kernels::mse_loss_forward_reference(x.numel(), x.data(), target.data(), loss.data());
  return record_loss("mse_loss", x, target, o,
                     reduce(loss, o.reduction, static_cast<double>(x.numel())), mse_loss_backward);
}

Tensor mse_loss_backward(const Tensor& dy, const Tensor& x, const Tensor& target,
                         const MseLossOptions& o) {
  constexpr std::string_view op = "mse_loss_backward";
  check_same_shape(op, x, target);
  const Scale s = element_scales(op, dy, o.reduction, x.shape(), static_cast<double>(x.numel()));
  Tensor dx = Tensor::empty(x.shape());
  kernels::mse_loss_backward_reference(x.numel(), x.data(), target.data(), s.values.data(),
                                       s.stride, dx.data());
  return dx;
}

Tensor binary_cross_entropy_with_logits(const Tensor& x, const Tensor& target,
                                        const BinaryCrossEntropyWithLogitsOptions& o) {
  constexpr std::string_view op = "binary_cross_entropy_with_logits";
  check_same_shape(op, x, target);
  const Tensor weight = broadcast_option(op, "weight", o.weight, x.shape());
  const Tensor pos_weight = broadcast_option(op, "pos_weight", o.pos_weight, x.shape());
  Tensor loss = Tensor::empty(x.shape());
  kernels::binary_cross_entropy_with_logits_forward_reference(
      x.numel(), x.data(), target.data(), data_or_null(weight), data_or_null(pos_weight),
      loss.data());
  return record_loss("binary_cross_entropy_with_logits", x, target, o,
                     reduce(loss, o.reduction, static_cast<double>(x.numel())),
                     binary_cross_entropy_with_logits_backward);
}

Tensor binary_cross_entropy_with_logits_backward(const Tensor& dy, const Tensor& x,
                                                 const Tensor& target,
                                                 const BinaryCrossEntropyWithLogitsOptions& o) {
  constexpr std::string_view op = "binary_cross_entropy_with_logits_backward";
  check_same_shape(op, x, target);
  const Tensor weight = broadcast_option(op, "weight", o.weight, x.shape());
  const Tensor pos_weight = broadcast_option(op, "pos_weight", o.pos_weight, x.shape());
  const Scale s = element_scales(op, dy, o.reduction, x.shape(), static_cast<double>(x.numel()));
  Tensor dx = Tensor::empty(x.shape());
  kernels::binary_cross_entropy_with_logits_backward_reference(
      x.numel(), x.data(), target.data(), data_or_null(weight), data_or_null(pos_weight),
      s.values.data(), s.stride, dx.data());
  return dx;
}

}  // namespace fovea::functional
