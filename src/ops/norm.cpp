// The door of batch normalisation: validate, view the input as (N, C, P), run the CPU
// kernels (held equal to the reference ones by tests/kernels/norm_kernels_test.cpp).
#include "fovea/functional/norm.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <string_view>
#include <utility>

#include "fovea/autograd.h"
#include "fovea/error.h"
#include "kernels/cpu/batch_norm_cpu.h"
#include "kernels/reference/batch_norm_reference.h"
#include "ops/checks.h"
#include "ops/fused_activation.h"

namespace fovea::functional {
namespace {

using kernels::BatchNormGeometry;

using ops::check_defined;

BatchNormGeometry geometry_of(std::string_view op, const Tensor& x, bool training) {
  check_defined(op, "input", x);
  if (x.dim() < 2)
    throw ShapeError(fmt::format("{}: input expects 2 to 5 dimensions (N, C, *spatial), got {}", op,
                                 shape_str(x.shape())));
  const BatchNormGeometry g{
      .N = x.size(0), .C = x.size(1), .P = shape_numel(std::span(x.shape()).subspan(2))};
  // The batch variance of a single value is 0 and its unbiased estimate undefined.
  if (training && g.count() < 2)
    throw ValueError(
        fmt::format("{}: input expects more than 1 value per channel when training, got shape {}",
                    op, shape_str(x.shape())));
  return g;
}

// t must be a (C) tensor: one value per channel.
void check_per_channel(std::string_view op, std::string_view arg, const Tensor& t, int64_t C) {
  check_defined(op, arg, t);
  if (t.shape() != Shape{C})
    throw ShapeError(fmt::format("{}: {} expects shape [{}] (one value per channel), got {}", op,
                                 arg, C, shape_str(t.shape())));
}

const float* data_or_null(const std::optional<Tensor>& t) {
  return t ? t->data() : nullptr;
}

// invstd[c] = 1 / sqrt(var[c] + eps)
void inverse_std(int64_t C, const float* var, double eps, float* invstd) {
  for (int64_t c = 0; c < C; ++c) invstd[c] = static_cast<float>(1.0 / std::sqrt(var[c] + eps));
}

// The tensors gradients flow to, in the order the backward returns them.
std::vector<Tensor> inputs_of(const Tensor& x, const std::optional<Tensor>& weight,
                              const std::optional<Tensor>& bias) {
  return {x, weight.value_or(Tensor()), bias.value_or(Tensor())};
}

}  // namespace

BatchNormForward batch_norm_forward(const Tensor& x, Tensor running_mean, Tensor running_var,
                                    const std::optional<Tensor>& weight,
                                    const std::optional<Tensor>& bias, const BatchNormOptions& o) {
  constexpr std::string_view op = "batch_norm";
  const BatchNormGeometry g = geometry_of(op, x, o.training);
  if (weight) check_per_channel(op, "weight", *weight, g.C);
  if (bias) check_per_channel(op, "bias", *bias, g.C);
  const bool has_running = running_mean.defined() || running_var.defined();
  if (has_running) {
    check_per_channel(op, "running_mean", running_mean, g.C);
    check_per_channel(op, "running_var", running_var, g.C);
  } else if (!o.training) {
    throw ValueError(fmt::format(
        "{}: running_mean expects a tensor in evaluation mode (training = false), got none", op));
  }
  if (!(o.momentum >= 0.0 && o.momentum <= 1.0))
    throw ValueError(fmt::format("{}: momentum expects a value in [0, 1], got {}", op, o.momentum));
  if (!(o.eps >= 0.0))
    throw ValueError(fmt::format("{}: eps expects a value >= 0, got {}", op, o.eps));

  BatchNormForward f{Tensor::empty(x.shape()), Tensor::empty({g.C}), Tensor::empty({g.C})};
  float* mean = f.save_mean.data();
  float* invstd = f.save_invstd.data();
  if (o.training) {
    Tensor var = Tensor::empty({g.C});
    kernels::batch_norm_stats_cpu(g, x.data(), mean, var.data());
    inverse_std(g.C, var.data(), o.eps, invstd);
    if (has_running)
      kernels::batch_norm_update_running_reference(g.C, g.count(), o.momentum, mean, var.data(),
                                                   running_mean.data(), running_var.data());
  } else {
    std::copy_n(running_mean.data(), g.C, mean);
    inverse_std(g.C, running_var.data(), o.eps, invstd);
  }
  // A fused activation is applied here only where no gradient flows (see batch_norm).
  const bool fuse = o.activation != FusedActivation::kNone &&
                    !autograd::any_requires_grad(inputs_of(x, weight, bias));
  const ops::ActivationClamp clamp =
      fuse ? ops::activation_clamp(o.activation) : ops::ActivationClamp{};
  kernels::batch_norm_forward_cpu(g, x.data(), mean, invstd, data_or_null(weight),
                                  data_or_null(bias), f.output.data(), clamp.lo, clamp.hi);
  return f;
}

Tensor batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var,
                  const std::optional<Tensor>& weight, const std::optional<Tensor>& bias,
                  const BatchNormOptions& o) {
  BatchNormForward f =
      batch_norm_forward(x, std::move(running_mean), std::move(running_var), weight, bias, o);
  const auto detached = [](const std::optional<Tensor>& t) {
    return t ? std::optional<Tensor>(t->detach()) : std::nullopt;
  };
  autograd::record("batch_norm", inputs_of(x, weight, bias), f.output,
                   [x = x.detach(), w = detached(weight), mean = f.save_mean,
                    invstd = f.save_invstd, o](const Tensor& dy, const std::vector<bool>& needs) {
                     BatchNormGradients g = batch_norm_backward(dy, x, w, mean, invstd, o);
                     return std::vector<Tensor>{needs[0] ? g.input : Tensor(),
                                                needs[1] ? g.weight : Tensor(),
                                                needs[2] ? g.bias : Tensor()};
                   });
  // Recorded: the activation was not fused above and runs as its own differentiable op.
  if (!autograd::any_requires_grad(inputs_of(x, weight, bias))) return f.output;
  return ops::apply_activation(f.output, o.activation);
}

BatchNormGradients batch_norm_backward(const Tensor& dy, const Tensor& x,
                                       const std::optional<Tensor>& weight, const Tensor& save_mean,
                                       const Tensor& save_invstd, const BatchNormOptions& o) {
  constexpr std::string_view op = "batch_norm_backward";
  const BatchNormGeometry g = geometry_of(op, x, o.training);
  check_defined(op, "grad_output", dy);
  if (dy.shape() != x.shape())
    throw ShapeError(fmt::format("{}: grad_output expects the input's shape {}, got {}", op,
                                 shape_str(x.shape()), shape_str(dy.shape())));
  if (weight) check_per_channel(op, "weight", *weight, g.C);
  check_per_channel(op, "save_mean", save_mean, g.C);
  check_per_channel(op, "save_invstd", save_invstd, g.C);

  BatchNormGradients grads{Tensor::empty(x.shape()), Tensor::empty({g.C}), Tensor::empty({g.C})};
  kernels::batch_norm_backward_cpu(g, dy.data(), x.data(), save_mean.data(), save_invstd.data(),
                                   data_or_null(weight), o.training, grads.input.data(),
                                   grads.weight.data(), grads.bias.data());
  return grads;
}

}  // namespace fovea::functional
