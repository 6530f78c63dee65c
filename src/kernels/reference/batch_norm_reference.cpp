#include "kernels/reference/batch_norm_reference.h"

namespace fovea::kernels {
namespace {

// Calls f(i) with the flat index of every element of channel c.
template <class F>
void for_each_in_channel(const BatchNormGeometry& g, int64_t c, F&& f) {
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t p = 0; p < g.P; ++p) f((n * g.C + c) * g.P + p);
}

double weight_of(const float* w, int64_t c) {
  return w ? w[c] : 1.0;
}

}  // namespace

void batch_norm_stats_reference(const BatchNormGeometry& g, const float* x, float* mean,
                                float* var) noexcept {
  const double M = static_cast<double>(g.count());
  for (int64_t c = 0; c < g.C; ++c) {
    double sum = 0.0;
    for_each_in_channel(g, c, [&](int64_t i) { sum += x[i]; });
    const double mu = sum / M;
    double squares = 0.0;
    for_each_in_channel(g, c, [&](int64_t i) { squares += (x[i] - mu) * (x[i] - mu); });
    mean[c] = static_cast<float>(mu);
    var[c] = static_cast<float>(squares / M);
  }
}

void batch_norm_forward_reference(const BatchNormGeometry& g, const float* x, const float* mean,
                                  const float* invstd, const float* w, const float* b,
                                  float* y) noexcept {
  for (int64_t c = 0; c < g.C; ++c)
    for_each_in_channel(g, c, [&](int64_t i) {
      const double xhat = (static_cast<double>(x[i]) - mean[c]) * invstd[c];
      y[i] = static_cast<float>(xhat * weight_of(w, c) + (b ? b[c] : 0.0));
    });
}

void batch_norm_backward_reference(const BatchNormGeometry& g, const float* dy, const float* x,
                                   const float* mean, const float* invstd, const float* w,
                                   bool training, float* dx, float* dw, float* db) noexcept {
  const double M = static_cast<double>(g.count());
  for (int64_t c = 0; c < g.C; ++c) {
    auto xhat = [&](int64_t i) { return (static_cast<double>(x[i]) - mean[c]) * invstd[c]; };
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for_each_in_channel(g, c, [&](int64_t i) {
      sum_dy += dy[i];
      sum_dy_xhat += dy[i] * xhat(i);
    });
    db[c] = static_cast<float>(sum_dy);
    dw[c] = static_cast<float>(sum_dy_xhat);
    const double scale = weight_of(w, c) * invstd[c];
    for_each_in_channel(g, c, [&](int64_t i) {
      const double centred = training ? dy[i] - sum_dy / M - xhat(i) * sum_dy_xhat / M : dy[i];
      dx[i] = static_cast<float>(scale * centred);
    });
  }
}

void batch_norm_update_running_reference(int64_t C, int64_t M, double momentum, const float* mean,
                                         const float* var, float* running_mean,
                                         float* running_var) noexcept {
  const double unbias = static_cast<double>(M) / static_cast<double>(M - 1);
  for (int64_t c = 0; c < C; ++c) {
    running_mean[c] = static_cast<float>((1.0 - momentum) * running_mean[c] + momentum * mean[c]);
    running_var[c] =
        static_cast<float>((1.0 - momentum) * running_var[c] + momentum * var[c] * unbias);
  }
}

}  // namespace fovea::kernels
