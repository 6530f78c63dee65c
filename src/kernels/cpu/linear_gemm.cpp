#include "kernels/cpu/linear_gemm.h"

#include <oneapi/dnnl/dnnl.h>

#include <algorithm>

namespace fovea::kernels {
namespace {

// Row-major C (M, N) = op(A)·op(B) + beta·C. An empty sum (K = 0) is handled here rather than
// trusted to the library: it leaves beta·C, which for beta = 0 must still be zeros.
void sgemm(char ta, char tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    if (beta == 0.0f) std::fill_n(C, M * ldc, 0.0f);
    return;
  }
  dnnl_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace

void linear_forward_gemm(const LinearGeometry& g, const float* x, const float* w, const float* b,
                         float* y) noexcept {
  const int64_t in = g.in_features, out = g.out_features;
  // Start from the bias in every row and accumulate the product onto it (beta = 1).
  if (b)
    for (int64_t r = 0; r < g.rows; ++r) std::copy_n(b, out, y + r * out);
  sgemm('N', 'T', g.rows, out, in, x, in, w, in, b ? 1.0f : 0.0f, y, out);
}

void linear_backward_data_gemm(const LinearGeometry& g, const float* dy, const float* w,
                               float* dx) noexcept {
  sgemm('N', 'N', g.rows, g.in_features, g.out_features, dy, g.out_features, w, g.in_features, 0.0f,
        dx, g.in_features);
}

void linear_backward_weight_gemm(const LinearGeometry& g, const float* x, const float* dy,
                                 float* dw) noexcept {
  sgemm('T', 'N', g.out_features, g.in_features, g.rows, dy, g.out_features, x, g.in_features, 0.0f,
        dw, g.in_features);
}

}  // namespace fovea::kernels
