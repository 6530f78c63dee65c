#include "ops/inverted_residual.h"

#include <vector>

#include "fovea/autograd.h"
#include "kernels/cpu/inverted_residual.h"
#include "ops/workspace.h"

namespace fovea::ops {
namespace {

bool has_shape(const Tensor& t, const Shape& shape) {
  return t.defined() && t.shape() == shape;
}

// An undefined bias is none; a defined one must hold `n` values.
bool bias_fits(const Tensor& b, int64_t n) {
  return !b.defined() || has_shape(b, {n});
}

const float* data_or_null(const Tensor& t) {
  return t.defined() ? t.data() : nullptr;
}

}  // namespace

Tensor fused_inverted_residual(const Tensor& x, const InvertedResidualConvs& c) {
  const std::vector<Tensor> inputs{x,      c.expand_w,  c.expand_b, c.dw_w,
                                   c.dw_b, c.project_w, c.project_b};
  if (!x.defined() || x.dim() != 4 || !c.dw_w.defined() || !c.project_w.defined() ||
      autograd::any_requires_grad(inputs))
    return {};
  const kernels::InvertedResidualGeometry g{.N = x.size(0),
                                            .C_in = x.size(1),
                                            .C_mid = c.dw_w.size(0),
                                            .C_out = c.project_w.size(0),
                                            .H = x.size(2),
                                            .W = x.size(3),
                                            .stride = c.stride,
                                            .expand = c.expand_w.defined(),
                                            .residual = c.residual};
  if ((g.expand && !has_shape(c.expand_w, {g.C_mid, g.C_in, 1, 1})) ||
      !bias_fits(c.expand_b, g.C_mid) || !has_shape(c.dw_w, {g.C_mid, 1, 3, 3}) ||
      !bias_fits(c.dw_b, g.C_mid) || !has_shape(c.project_w, {g.C_out, g.C_mid, 1, 1}) ||
      !bias_fits(c.project_b, g.C_out) || !kernels::inverted_residual_supports(g))
    return {};
  Tensor y = Tensor::empty({g.N, g.C_out, g.out_h(), g.out_w()});
  const kernels::InvertedResidualWeights w{.expand_w = data_or_null(c.expand_w),
                                           .expand_b = data_or_null(c.expand_b),
                                           .dw_w = c.dw_w.data(),
                                           .dw_b = data_or_null(c.dw_b),
                                           .project_w = c.project_w.data(),
                                           .project_b = data_or_null(c.project_b)};
  kernels::inverted_residual_forward(
      g, x.data(), w, y.data(), thread_workspace(kernels::inverted_residual_workspace_floats(g)));
  // Seen by op observers (profiles, traces) as one op; nothing is recorded, as no input
  // requires a gradient, so it needs no backward.
  autograd::record("inverted_residual", inputs, y, nullptr);
  return y;
}

}  // namespace fovea::ops
