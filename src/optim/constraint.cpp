#include "fovea/optim/constraint.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "fovea/error.h"
#include "optim/update_kernels.h"

namespace fovea::optim {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

void check_norm_type(const char* op, double norm_type) {
  if (!(norm_type > 0))
    throw ValueError(
        fmt::format("{}: norm_type expects a value > 0 or inf, got {}", op, norm_type));
}

// The norm_type-norm of the elements of several arrays taken together.
class Norm {
 public:
  explicit Norm(double norm_type) : p_(norm_type) {}
  void add(const float* x, int64_t n) {
    if (p_ != kInf) {
      acc_ += kernels::sum_abs_pow(x, n, p_);
      return;
    }
    const double m = kernels::max_abs(x, n);
    acc_ = std::isnan(acc_) || m <= acc_ ? acc_ : m;  // NaN sticks, as in PyTorch's max
  }
  double value() const {
    if (p_ == kInf) return acc_;
    return p_ == 2.0 ? std::sqrt(acc_) : std::pow(acc_, 1.0 / p_);
  }

 private:
  double p_;
  double acc_ = 0.0;
};

}  // namespace

Tensor& max_norm_(Tensor& weight, double max_norm, int64_t dim, double norm_type) {
  if (!weight.defined()) throw ValueError("max_norm_: weight expects a defined tensor");
  if (weight.dim() < 2)
    throw ShapeError(fmt::format(
        "max_norm_: weight expects at least 2 dimensions (pass weights, not biases), got {} ({})",
        weight.dim(), shape_str(weight.shape())));
  if (dim < -weight.dim() || dim >= weight.dim())
    throw ShapeError(fmt::format("max_norm_: dim expects a value in [{}, {}) for shape {}, got {}",
                                 -weight.dim(), weight.dim(), shape_str(weight.shape()), dim));
  if (!(max_norm >= 0))
    throw ValueError(fmt::format("max_norm_: max_norm expects a value >= 0, got {}", max_norm));
  check_norm_type("max_norm_", norm_type);
  if (dim < 0) dim += weight.dim();

  // weight viewed as (outer, slices, inner); slice i is weight[:, i, :].
  const Shape& shape = weight.shape();
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= shape[d];
  for (int64_t d = dim + 1; d < weight.dim(); ++d) inner *= shape[d];
  const int64_t slices = shape[dim];
  float* w = weight.data();
  for (int64_t i = 0; i < slices; ++i) {
    Norm norm(norm_type);
    for (int64_t o = 0; o < outer; ++o) norm.add(w + (o * slices + i) * inner, inner);
    const double n = norm.value();
    if (!(n > max_norm)) continue;  // NaN norms too, as in PyTorch
    const auto factor = static_cast<float>(max_norm / (n + 1e-7));
    for (int64_t o = 0; o < outer; ++o) kernels::scale(w + (o * slices + i) * inner, inner, factor);
  }
  return weight;
}

void max_norm_(const std::vector<Tensor>& weights, double max_norm, int64_t dim, double norm_type) {
  for (Tensor w : weights) max_norm_(w, max_norm, dim, norm_type);
}

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  if (!(max_norm >= 0))
    throw ValueError(
        fmt::format("clip_grad_norm_: max_norm expects a value >= 0, got {}", max_norm));
  check_norm_type("clip_grad_norm_", norm_type);
  std::vector<Tensor> grads;
  for (const Tensor& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return 0.0;

  Norm norm(norm_type);  // PyTorch's norm of per-tensor norms is the norm of all elements
  for (const Tensor& g : grads) norm.add(g.data(), g.numel());
  const double total = norm.value();
  if (error_if_nonfinite && !std::isfinite(total))
    throw ValueError(fmt::format(
        "clip_grad_norm_: the total norm of order {} of the gradients is non-finite ({}), so "
        "they cannot be clipped; pass error_if_nonfinite = false to scale them anyway",
        norm_type, total));
  // The coefficient in float, as PyTorch computes it from its float32 total norm.
  const float coef = static_cast<float>(max_norm) / (static_cast<float>(total) + 1e-6f);
  if (!(coef >= 1.0f))  // clamp(max = 1): multiplying by 1 changes nothing (NaN does scale)
    for (Tensor g : grads) kernels::scale(g.data(), g.numel(), coef);
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  if (!(clip_value >= 0))
    throw ValueError(
        fmt::format("clip_grad_value_: clip_value expects a value >= 0, got {}", clip_value));
  const auto c = static_cast<float>(clip_value);
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (g.defined()) kernels::clamp(g.data(), g.numel(), -c, c);
  }
}

}  // namespace fovea::optim
