#include "kernels/reference/loss_reference.h"

#include <algorithm>
#include <cmath>

namespace fovea::kernels {
namespace {

// Calls f(i, t, at) for each element i = (n, s) of a class loss: t its target class (or
// ignore_index), at(c) the offset of class c's value in the (N, C, inner) input.
template <class F>
void for_each_element(const ClassLossGeometry& g, const float* target, F&& f) {
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t s = 0; s < g.inner; ++s) {
      const int64_t i = n * g.inner + s;
      const auto at = [&](int64_t c) { return (n * g.C + c) * g.inner + s; };
      f(i, static_cast<int64_t>(target[i]), at);
    }
}

float weight_of(const float* weight, int64_t c) {
  return weight ? weight[c] : 1.0f;
}

// log sum_c exp(x[at(c)]), shifted by the largest value so no exp overflows.
template <class At>
float log_sum_exp(const ClassLossGeometry& g, const float* x, const At& at) {
  float m = -INFINITY;
  for (int64_t c = 0; c < g.C; ++c) m = std::max(m, x[at(c)]);
  if (std::isinf(m)) return m;  // every logit -inf (or one +inf): no finite shift exists
  float s = 0.0f;
  for (int64_t c = 0; c < g.C; ++c) s += std::exp(x[at(c)] - m);
  return m + std::log(s);
}

// log(1 + exp(z)) without overflow.
float softplus(float z) {
  return std::max(z, 0.0f) + std::log1p(std::exp(-std::fabs(z)));
}

}  // namespace

void nll_loss_forward_reference(const ClassLossGeometry& g, const float* lp, const float* target,
                                const float* weight, float* loss) noexcept {
  for_each_element(g, target, [&](int64_t i, int64_t t, const auto& at) {
    loss[i] = t == g.ignore_index ? 0.0f : -weight_of(weight, t) * lp[at(t)];
  });
}

void nll_loss_backward_reference(const ClassLossGeometry& g, const float* target,
                                 const float* weight, const float* scale, int64_t scale_stride,
                                 float* dlp) noexcept {
  std::fill_n(dlp, g.N * g.C * g.inner, 0.0f);
  for_each_element(g, target, [&](int64_t i, int64_t t, const auto& at) {
    if (t != g.ignore_index) dlp[at(t)] = -scale[i * scale_stride] * weight_of(weight, t);
  });
}

void cross_entropy_forward_reference(const ClassLossGeometry& g, const float* x,
                                     const float* target, const float* weight,
                                     float* loss) noexcept {
  const float eps = g.label_smoothing;
  for_each_element(g, target, [&](int64_t i, int64_t t, const auto& at) {
    if (t == g.ignore_index) {
      loss[i] = 0.0f;
      return;
    }
    const float lse = log_sum_exp(g, x, at);
    loss[i] = -weight_of(weight, t) * (x[at(t)] - lse);
    // Only with smoothing: a -inf logit would make 0 * inf = NaN here.
    if (eps != 0.0f) {
      float smooth = 0.0f;
      for (int64_t c = 0; c < g.C; ++c) smooth -= weight_of(weight, c) * (x[at(c)] - lse);
      loss[i] = (1.0f - eps) * loss[i] + eps / static_cast<float>(g.C) * smooth;
    }
  });
}

void cross_entropy_backward_reference(const ClassLossGeometry& g, const float* x,
                                      const float* target, const float* weight, const float* scale,
                                      int64_t scale_stride, float* dx) noexcept {
  const float eps = g.label_smoothing, eps_c = eps / static_cast<float>(g.C);
  float weight_sum = 0.0f;
  for (int64_t c = 0; c < g.C; ++c) weight_sum += weight_of(weight, c);
  for_each_element(g, target, [&](int64_t i, int64_t t, const auto& at) {
    if (t == g.ignore_index) {
      for (int64_t c = 0; c < g.C; ++c) dx[at(c)] = 0.0f;
      return;
    }
    const float lse = log_sum_exp(g, x, at), s = scale[i * scale_stride];
    const float wt = weight_of(weight, t);
    for (int64_t c = 0; c < g.C; ++c) {
      const float p = std::exp(x[at(c)] - lse);
      float d = (1.0f - eps) * wt * (p - (c == t ? 1.0f : 0.0f));
      if (eps != 0.0f) d += eps_c * (p * weight_sum - weight_of(weight, c));
      dx[at(c)] = s * d;
    }
  });
}

void mse_loss_forward_reference(int64_t n, const float* x, const float* y, float* loss) noexcept {
  for (int64_t i = 0; i < n; ++i) loss[i] = (x[i] - y[i]) * (x[i] - y[i]);
}

void mse_loss_backward_reference(int64_t n, const float* x, const float* y, const float* scale,
                                 int64_t scale_stride, float* dx) noexcept {
  for (int64_t i = 0; i < n; ++i) dx[i] = scale[i * scale_stride] * 2.0f * (x[i] - y[i]);
}

void binary_cross_entropy_with_logits_forward_reference(int64_t n, const float* x, const float* y,
                                                        const float* weight,
                                                        const float* pos_weight,
                                                        float* loss) noexcept {
  for (int64_t i = 0; i < n; ++i) {
    const float log_weight = 1.0f + (pos_weight ? pos_weight[i] - 1.0f : 0.0f) * y[i];
    loss[i] = weight_of(weight, i) * ((1.0f - y[i]) * x[i] + log_weight * softplus(-x[i]));
  }
}

void binary_cross_entropy_with_logits_backward_reference(int64_t n, const float* x, const float* y,
                                                         const float* weight,
                                                         const float* pos_weight,
                                                         const float* scale, int64_t scale_stride,
                                                         float* dx) noexcept {
  for (int64_t i = 0; i < n; ++i) {
    const float pw = pos_weight ? pos_weight[i] : 1.0f;
    const float sigmoid = 1.0f / (1.0f + std::exp(-x[i]));
    dx[i] = scale[i * scale_stride] * weight_of(weight, i) *
            ((1.0f + (pw - 1.0f) * y[i]) * sigmoid - pw * y[i]);
  }
}

}  // namespace fovea::kernels
