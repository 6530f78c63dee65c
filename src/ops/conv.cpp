// The door of every convolution: validate (throw with op, argument, expected, given), build
// the one ConvGeometry, pick an algorithm from the kernel table, run it.
#include "fovea/functional/conv.h"

#include <fmt/format.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "fovea/autograd.h"
#include "fovea/error.h"
#include "fovea/functional/elementwise.h"
#include "kernels/conv_algorithm.h"
#include "ops/checks.h"
#include "ops/conv_autotune.h"
#include "ops/conv_call.h"
#include "ops/fused_activation.h"
#include "ops/workspace.h"

namespace fovea {
namespace {

std::string& forced_algorithm() {
  static std::string name;
  return name;
}

}  // namespace

void set_conv_algorithm(std::string_view name) {
  if (!name.empty() && name != kConvAutotune) {
    auto all = kernels::conv_algorithms();
    if (std::ranges::find(all, name, &kernels::ConvAlgorithm::name) == all.end())
      throw ValueError(
          fmt::format("set_conv_algorithm: name expects \"\", \"{}\" or one of {}, got '{}'",
                      kConvAutotune, fmt::join(conv_algorithm_names(), ", "), name));
  }
  forced_algorithm() = name;
}

const std::string& conv_algorithm() {
  return forced_algorithm();
}

std::vector<std::string> conv_algorithm_names() {
  std::vector<std::string> names;
  for (const auto& a : kernels::conv_algorithms()) names.emplace_back(a.name);
  return names;
}

}  // namespace fovea

namespace fovea::functional {
namespace {

using kernels::ConvPass;
using ops::ConvCall;

using ops::check_defined;

std::optional<Shape> shape_of(std::string_view op, const std::optional<Tensor>& b) {
  if (!b) return std::nullopt;
  check_defined(op, "bias", *b);
  return b->shape();
}

// Validates and returns the geometry of a convolution or transposed convolution call.
template <int D, class Options>
ConvCall make_call(std::string_view op, const Tensor& x, const Tensor& w,
                   const std::optional<Tensor>& b, const Options& o) {
  check_defined(op, "input", x);
  check_defined(op, "weight", w);
  if constexpr (std::is_same_v<Options, ConvOptions<D>>)
    return ops::conv_call<D>(op, x.shape(), w.shape(), shape_of(op, b), o);
  else
    return ops::conv_transpose_call<D>(op, x.shape(), w.shape(), shape_of(op, b), o);
}

// Runs one pass with the algorithm the current setting picks: autotuned, or the forced or
// default choice of the kernel table.
void run_pass(const ConvCall& c, ConvPass pass, const ops::ConvRun& run) {
  const std::string& mode = conv_algorithm();
  run(mode == kConvAutotune ? ops::autotuned_conv(c.g, pass, run)
                            : *kernels::select_conv(c.g, pass, mode));
}

float* workspace_for(const kernels::ConvAlgorithm& a, const ConvCall& c, ConvPass pass) {
  return ops::thread_workspace(a.workspace_floats(c.g, pass));
}

// The three passes of the convolution described by c.g, on raw buffers of the right sizes.
void conv_forward(const ConvCall& c, const float* x, const float* w,
                  const kernels::ConvEpilogue& ep, float* y) {
  run_pass(c, ConvPass::kForward, [&](const kernels::ConvAlgorithm& a) {
    a.forward(c.g, x, w, ep, y, workspace_for(a, c, ConvPass::kForward));
  });
}
void conv_backward_data(const ConvCall& c, const float* dy, const float* w, float* dx) {
  run_pass(c, ConvPass::kBackwardData, [&](const kernels::ConvAlgorithm& a) {
    a.backward_data(c.g, dy, w, dx, workspace_for(a, c, ConvPass::kBackwardData));
  });
}
void conv_backward_weight(const ConvCall& c, const float* x, const float* dy, float* dw) {
  run_pass(c, ConvPass::kBackwardWeight, [&](const kernels::ConvAlgorithm& a) {
    a.backward_weight(c.g, x, dy, dw, workspace_for(a, c, ConvPass::kBackwardWeight));
  });
}

// Reversing every spatial axis of a (C0, C1, *kernel) weight reverses each contiguous
// kernel block: true convolution is cross-correlation with this weight.
Tensor flip_kernel(const Tensor& w) {
  Tensor f = w.clone();
  const int64_t block = shape_numel(std::span(w.shape()).subspan(2));
  for (int64_t i = 0; i < f.numel(); i += block) std::reverse(f.data() + i, f.data() + i + block);
  return f;
}

void check_grad_output(const ConvCall& c, const Tensor& dy, const Shape& expected) {
  check_defined(c.op, "grad_output", dy);
  if (dy.shape() != expected)
    throw ShapeError(fmt::format("{}: grad_output expects the forward output's shape {}, got {}",
                                 c.op, shape_str(expected), shape_str(dy.shape())));
}

// Which gradients a backward call computes: autograd skips the ones nobody needs (the
// input gradient of a network's first layer, for instance).
struct Needs {
  bool input = true, weight = true, bias = true;
};

Needs needs_from(const std::vector<bool>& needs) {
  return {needs[0], needs[1], needs[2]};
}

template <int D>
ConvGradients conv_grads(const ConvCall& c, const Tensor& dy, const Tensor& x, const Tensor& w,
                         Needs needs, bool flip) {
  check_grad_output(c, dy, ops::conv_output_shape(c));
  ConvGradients grads;
  if (needs.input) {
    grads.input = Tensor::empty(x.shape());
    const Tensor wk = flip ? flip_kernel(w) : w;
    conv_backward_data(c, dy.data(), wk.data(), grads.input.data());
  }
  if (needs.weight) {
    grads.weight = Tensor::empty(w.shape());
    conv_backward_weight(c, x.data(), dy.data(), grads.weight.data());
    if (flip) grads.weight = flip_kernel(grads.weight);
  }
  if (needs.bias) {
    grads.bias = Tensor::empty({c.g.C_out});
    kernels::conv_backward_bias(c.g.N, c.g.C_out, c.g.out_pixels(), dy.data(), grads.bias.data());
  }
  return grads;
}

// The convolution, then (residual: not null) + *residual, then o.activation.
template <int D>
Tensor conv_nd(std::string_view op, const Tensor& x, const Tensor& w,
               const std::optional<Tensor>& b, const ConvOptions<D>& o,
               const Tensor* residual = nullptr) {
  const ConvCall c = make_call<D>(op, x, w, b, o);
  const Shape out_shape = ops::conv_output_shape(c);
  if (residual) {
    check_defined(op, "residual", *residual);
    if (residual->shape() != out_shape)
      throw ShapeError(fmt::format("{}: residual expects the output's shape {}, got {}", op,
                                   shape_str(out_shape), shape_str(residual->shape())));
  }
  Tensor y = Tensor::empty(out_shape);
  const Tensor wk = o.flip_kernel ? flip_kernel(w) : w;
  const std::vector<Tensor> inputs{x, w, b.value_or(Tensor())};
  // The kernel applies the residual and activation only where no gradient flows through them;
  // under autograd they run as their own ops below, whose backward passes the gradient on.
  const bool grads =
      autograd::any_requires_grad(inputs) || (residual && autograd::any_requires_grad({*residual}));
  bool fused_residual = false;
  run_pass(c, ConvPass::kForward, [&](const kernels::ConvAlgorithm& a) {
    // Rows that cannot add a residual leave it, and the activation after it, to add() below.
    fused_residual = residual && !grads && a.fuses_residual;
    const bool clamp_here = !grads && (!residual || fused_residual);
    const ops::ActivationClamp clamp =
        clamp_here ? ops::activation_clamp(o.activation) : ops::ActivationClamp{};
    const kernels::ConvEpilogue ep{.bias = b ? b->data() : nullptr,
                                   .residual = fused_residual ? residual->data() : nullptr,
                                   .lo = clamp.lo,
                                   .hi = clamp.hi};
    a.forward(c.g, x.data(), wk.data(), ep, y.data(), workspace_for(a, c, ConvPass::kForward));
  });
  autograd::record(std::string(op), inputs, y,
                   [c, x = x.detach(), w = w.detach(), flip = o.flip_kernel](
                       const Tensor& dy, const std::vector<bool>& needs) {
                     ConvGradients g = conv_grads<D>(c, dy, x, w, needs_from(needs), flip);
                     return std::vector<Tensor>{g.input, g.weight, g.bias};
                   });
  if (residual && !fused_residual) return add(y, *residual, o.activation);
  return grads ? ops::apply_activation(y, o.activation) : y;
}

template <int D>
ConvGradients conv_nd_backward(std::string_view op, const Tensor& dy, const Tensor& x,
                               const Tensor& w, bool has_bias, const ConvOptions<D>& o) {
  const ConvCall c = make_call<D>(op, x, w, std::nullopt, o);
  check_defined(op, "grad_output", dy);
  return conv_grads<D>(c, dy, x, w, {.bias = has_bias}, o.flip_kernel);
}

// Our dy is the adjoint convolution's input, our x its output gradient.
ConvGradients conv_transpose_grads(const ConvCall& c, const Tensor& dy, const Tensor& x,
                                   const Tensor& w, Needs needs) {
  check_grad_output(c, dy, ops::conv_input_shape(c));
  ConvGradients grads;
  if (needs.input) {
    grads.input = Tensor::empty(x.shape());
    conv_forward(c, dy.data(), w.data(), {}, grads.input.data());
  }
  if (needs.weight) {
    grads.weight = Tensor::empty(w.shape());
    conv_backward_weight(c, dy.data(), x.data(), grads.weight.data());
  }
  if (needs.bias) {
    grads.bias = Tensor::empty({c.g.C_in});
    kernels::conv_backward_bias(c.g.N, c.g.C_in, c.g.in_pixels(), dy.data(), grads.bias.data());
  }
  return grads;
}

template <int D>
Tensor conv_transpose_nd(std::string_view op, const Tensor& x, const Tensor& w,
                         const std::optional<Tensor>& b, const ConvTransposeOptions<D>& o) {
  const ConvCall c = make_call<D>(op, x, w, b, o);
  Tensor y = Tensor::empty(ops::conv_input_shape(c));
  conv_backward_data(c, x.data(), w.data(), y.data());
  if (b) {
    const int64_t P = c.g.in_pixels();
    for (int64_t n = 0; n < c.g.N; ++n)
      for (int64_t ch = 0; ch < c.g.C_in; ++ch) {
        float* plane = y.data() + (n * c.g.C_in + ch) * P;
        const float bias = b->data()[ch];
        for (int64_t p = 0; p < P; ++p) plane[p] += bias;
      }
  }
  autograd::record(
      std::string(op), {x, w, b.value_or(Tensor())}, y,
      [c, x = x.detach(), w = w.detach()](const Tensor& dy, const std::vector<bool>& needs) {
        ConvGradients g = conv_transpose_grads(c, dy, x, w, needs_from(needs));
        return std::vector<Tensor>{g.input, g.weight, g.bias};
      });
  return y;
}

template <int D>
ConvGradients conv_transpose_nd_backward(std::string_view op, const Tensor& dy, const Tensor& x,
                                         const Tensor& w, bool has_bias,
                                         const ConvTransposeOptions<D>& o) {
  const ConvCall c = make_call<D>(op, x, w, std::nullopt, o);
  check_defined(op, "grad_output", dy);
  return conv_transpose_grads(c, dy, x, w, {.bias = has_bias});
}

}  // namespace

Tensor conv1d(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b,
              const Conv1dOptions& o) {
  return conv_nd<1>("conv1d", x, w, b, o);
}
Tensor conv2d(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b,
              const Conv2dOptions& o) {
  return conv_nd<2>("conv2d", x, w, b, o);
}
Tensor conv3d(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b,
              const Conv3dOptions& o) {
  return conv_nd<3>("conv3d", x, w, b, o);
}
Tensor conv2d_add(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b,
                  const Tensor& residual, const Conv2dOptions& o) {
  return conv_nd<2>("conv2d_add", x, w, b, o, &residual);
}

ConvGradients conv1d_backward(const Tensor& dy, const Tensor& x, const Tensor& w, bool has_bias,
                              const Conv1dOptions& o) {
  return conv_nd_backward<1>("conv1d_backward", dy, x, w, has_bias, o);
}
ConvGradients conv2d_backward(const Tensor& dy, const Tensor& x, const Tensor& w, bool has_bias,
                              const Conv2dOptions& o) {
  return conv_nd_backward<2>("conv2d_backward", dy, x, w, has_bias, o);
}
ConvGradients conv3d_backward(const Tensor& dy, const Tensor& x, const Tensor& w, bool has_bias,
                              const Conv3dOptions& o) {
  return conv_nd_backward<3>("conv3d_backward", dy, x, w, has_bias, o);
}

Tensor conv_transpose1d(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b,
                        const ConvTranspose1dOptions& o) {
  return conv_transpose_nd<1>("conv_transpose1d", x, w, b, o);
}
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b,
                        const ConvTranspose2dOptions& o) {
  return conv_transpose_nd<2>("conv_transpose2d", x, w, b, o);
}
Tensor conv_transpose3d(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b,
                        const ConvTranspose3dOptions& o) {
  return conv_transpose_nd<3>("conv_transpose3d", x, w, b, o);
}

ConvGradients conv_transpose1d_backward(const Tensor& dy, const Tensor& x, const Tensor& w,
                                        bool has_bias, const ConvTranspose1dOptions& o) {
  return conv_transpose_nd_backward<1>("conv_transpose1d_backward", dy, x, w, has_bias, o);
}
ConvGradients conv_transpose2d_backward(const Tensor& dy, const Tensor& x, const Tensor& w,
                                        bool has_bias, const ConvTranspose2dOptions& o) {
  return conv_transpose_nd_backward<2>("conv_transpose2d_backward", dy, x, w, has_bias, o);
}
ConvGradients conv_transpose3d_backward(const Tensor& dy, const Tensor& x, const Tensor& w,
                                        bool has_bias, const ConvTranspose3dOptions& o) {
  return conv_transpose_nd_backward<3>("conv_transpose3d_backward", dy, x, w, has_bias, o);
}

}  // namespace fovea::functional
