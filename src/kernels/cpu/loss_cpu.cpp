#include "kernels/cpu/loss_cpu.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/row_exp_sum.h"
#include "kernels/cpu/vector_math.h"

namespace fovea::kernels {
namespace {

// Below this many logits a call stays on one thread: waking the team costs more.
constexpr int64_t kMinParallelElements = int64_t{1} << 15;

// Calls f(i) for every row i of the (rows, C) logits, in parallel when there is enough work.
template <class F>
void for_each_row(const ClassLossGeometry& g, F&& f) {
  const int64_t rows = g.elements();
#pragma omp parallel for schedule(static) if (rows * g.C >= kMinParallelElements)
  for (int64_t i = 0; i < rows; ++i) f(i);
}

// log sum_c exp(x[c]), shifted by the largest logit; the reference's rule when that is
// infinite (no finite shift exists).
float log_sum_exp(int64_t C, const float* __restrict x) {
  const auto [m, s] = row_exp_sum(C, x, nullptr);
  return std::isinf(m) ? m : m + std::log(s);
}

// sum_c w[c] * (x[c] - lse), w = 1 when weight is null: the smoothing term.
float weighted_log_prob_sum(int64_t C, const float* __restrict x, const float* __restrict weight,
                            float lse) {
  float s = 0.0f;
  if (weight) {
#pragma omp simd reduction(+ : s)
    for (int64_t c = 0; c < C; ++c) s += weight[c] * (x[c] - lse);
  } else {
#pragma omp simd reduction(+ : s)
    for (int64_t c = 0; c < C; ++c) s += x[c] - lse;
  }
  return s;
}

float weight_of(const float* weight, int64_t c) {
  return weight ? weight[c] : 1.0f;
}

}  // namespace

void cross_entropy_forward_cpu(const ClassLossGeometry& g, const float* x, const float* target,
                               const float* weight, float* loss) noexcept {
  const float eps = g.label_smoothing;
  for_each_row(g, [&](int64_t i) {
    const int64_t t = static_cast<int64_t>(target[i]);
    if (t == g.ignore_index) {
      loss[i] = 0.0f;
      return;
    }
    const float* row = x + i * g.C;
    const float lse = log_sum_exp(g.C, row);
    loss[i] = -weight_of(weight, t) * (row[t] - lse);
    if (eps != 0.0f)
      loss[i] = (1.0f - eps) * loss[i] -
                eps / static_cast<float>(g.C) * weighted_log_prob_sum(g.C, row, weight, lse);
  });
}

void cross_entropy_backward_cpu(const ClassLossGeometry& g, const float* x, const float* target,
                                const float* weight, const float* scale, int64_t scale_stride,
                                float* dx) noexcept {
  const int64_t C = g.C;
  const float eps = g.label_smoothing, eps_c = eps / static_cast<float>(C);
  float weight_sum = 0.0f;
  for (int64_t c = 0; c < C; ++c) weight_sum += weight_of(weight, c);
  for_each_row(g, [&](int64_t i) {
    const int64_t t = static_cast<int64_t>(target[i]);
    float* __restrict d = dx + i * C;
    if (t == g.ignore_index) {
      std::fill_n(d, C, 0.0f);
      return;
    }
    const float* __restrict row = x + i * C;
    const float s = scale[i * scale_stride], a = (1.0f - eps) * weight_of(weight, t);
    // p[c] = e^(x[c] - m) / sum_k e^(x[k] - m), the exponentials kept in d between the passes.
    const auto [m, sum] = row_exp_sum(C, row, d);
    float p_scale = 1.0f / sum;
    if (std::isinf(m)) {  // no finite shift exists: the reference's p = e^(x - m), m infinite
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) d[c] = vmath::exp(row[c] - m);
      p_scale = 1.0f;
    }
    const float p_t = d[t] * p_scale;
    // dx[c] = s * (a * (p[c] - [c = t]) + eps/C * (p[c] * sum_k w[k] - w[c])); the target's
    // element is redone below with p - 1 formed first, exact where p is near 1.
    if (eps == 0.0f) {
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) d[c] = s * (a * (d[c] * p_scale));
    } else if (weight) {
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) {
        const float p = d[c] * p_scale;
        d[c] = s * (a * p + eps_c * (p * weight_sum - weight[c]));
      }
    } else {
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) {
        const float p = d[c] * p_scale;
        d[c] = s * (a * p + eps_c * (p * weight_sum - 1.0f));
      }
    }
    float d_t = a * (p_t - 1.0f);
    if (eps != 0.0f) d_t += eps_c * (p_t * weight_sum - weight_of(weight, t));
    d[t] = s * d_t;
  });
}

}  // namespace fovea::kernels
