#include "kernels/cpu/batch_norm_cpu.h"

#include <algorithm>
#include <limits>

#include "kernels/cpu/vector_math.h"

namespace fovea::kernels {
namespace {

// Below this many elements a call stays on one thread: waking the team costs more.
constexpr int64_t kMinParallelElements = int64_t{1} << 15;

}  // namespace

void batch_norm_stats_cpu(const BatchNormGeometry& g, const float* x, float* mean,
                          float* var) noexcept {
  const int64_t C = g.C, P = g.P;
  const double M = static_cast<double>(g.count());
#pragma omp parallel for if (g.numel() >= kMinParallelElements) schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    const double shift = x[c * P];
    double s1 = 0.0, s2 = 0.0;
    for (int64_t n = 0; n < g.N; ++n) {
      const float* row = x + (n * C + c) * P;  // (P)
      const float shift_f = static_cast<float>(shift);
      float r1 = 0.0f, r2 = 0.0f;  // a row in float lanes, rows added in double (see header)
#pragma omp simd reduction(+ : r1, r2)
      for (int64_t p = 0; p < P; ++p) {
        const float d = row[p] - shift_f;
        r1 += d;
        r2 += d * d;
      }
      s1 += r1;
      s2 += r2;
    }
    mean[c] = static_cast<float>(shift + s1 / M);
    var[c] = static_cast<float>(std::max(0.0, (s2 - s1 * s1 / M) / M));
  }
}

void batch_norm_forward_cpu(const BatchNormGeometry& g, const float* x, const float* mean,
                            const float* invstd, const float* w, const float* b, float* y, float lo,
                            float hi) noexcept {
  const int64_t N = g.N, C = g.C, P = g.P;
  const bool clamps =
      lo > -std::numeric_limits<float>::infinity() || hi < std::numeric_limits<float>::infinity();
#pragma omp parallel for collapse(2) if (g.numel() >= kMinParallelElements) schedule(static)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const float mu = mean[c], scale = invstd[c] * (w ? w[c] : 1.0f), shift = b ? b[c] : 0.0f;
      const float* src = x + (n * C + c) * P;  // (P)
      float* dst = y + (n * C + c) * P;
      if (!clamps) {
#pragma omp simd
        for (int64_t p = 0; p < P; ++p) dst[p] = (src[p] - mu) * scale + shift;
        continue;
      }
#pragma omp simd
      for (int64_t p = 0; p < P; ++p) dst[p] = vmath::clamp((src[p] - mu) * scale + shift, lo, hi);
    }
}

void batch_norm_backward_cpu(const BatchNormGeometry& g, const float* dy, const float* x,
                             const float* mean, const float* invstd, const float* w, bool training,
                             float* dx, float* dw, float* db) noexcept {
  const int64_t C = g.C, P = g.P;
  const double M = static_cast<double>(g.count());
#pragma omp parallel for if (g.numel() >= kMinParallelElements) schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    const float mu = mean[c];
    double sum_dy = 0.0, sum_dy_centred = 0.0;  // sum dy, sum dy*(x - mean)
    for (int64_t n = 0; n < g.N; ++n) {
      const float* dy_row = dy + (n * C + c) * P;  // (P)
      const float* x_row = x + (n * C + c) * P;
      float r_dy = 0.0f, r_centred = 0.0f;
#pragma omp simd reduction(+ : r_dy, r_centred)
      for (int64_t p = 0; p < P; ++p) {
        r_dy += dy_row[p];
        r_centred += dy_row[p] * (x_row[p] - mu);
      }
      sum_dy += r_dy;
      sum_dy_centred += r_centred;
    }
    db[c] = static_cast<float>(sum_dy);
    dw[c] = static_cast<float>(sum_dy_centred * invstd[c]);
    // dx = scale * (dy - mean_dy - (x - mean) * k), k = invstd^2 * mean(dy*(x - mean));
    // evaluation keeps only scale * dy.
    const float scale = invstd[c] * (w ? w[c] : 1.0f);
    const float mean_dy = training ? static_cast<float>(sum_dy / M) : 0.0f;
    const float k =
        training ? static_cast<float>(sum_dy_centred / M * invstd[c] * invstd[c]) : 0.0f;
    for (int64_t n = 0; n < g.N; ++n) {
      const float* dy_row = dy + (n * C + c) * P;  // (P)
      const float* x_row = x + (n * C + c) * P;
      float* dx_row = dx + (n * C + c) * P;
#pragma omp simd
      for (int64_t p = 0; p < P; ++p)
        dx_row[p] = scale * (dy_row[p] - mean_dy - (x_row[p] - mu) * k);
    }
  }
}

}  // namespace fovea::kernels
